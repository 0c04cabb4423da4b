"""The words of a text that carry meaning for matching a person to a course (pure)."""
from __future__ import annotations

import re

_word = re.compile(r"\w+", re.UNICODE)
# Words that carry no meaning for matching a person to a course (Swedish and English).
STOP = set("""och att det som en ett är för på med har jag inte av till den de om kan vill var men så
eller från vid vara mitt min mina där här hur vad när också bara mycket inom samt även sina sitt sin
kursen kurs ämnet eleven eleverna kunskaper the and for with have has was not you your are this that from
into about want would like worked work years year""".split())


def words(text: str) -> list[str]:
    return [w for w in (m.lower() for m in _word.findall(text)) if len(w) > 3 and w not in STOP]
