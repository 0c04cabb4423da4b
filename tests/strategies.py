"""Hypothesis strategies the fuzz tests share: any JSON value (extreme ones included) and a valid
document mutated at random (values replaced, keys deleted, records duplicated)."""
import copy

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                derandomize=True)  # the same 1,000 inputs in every CI run
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40) | st.sampled_from(["", "null", "2099-12-31", "2027-02-30", "<script>x</script>", "0000",
                                             "9999", "-1", "1e309", "\u0000", "\r\n"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


def slots(doc, out=None):
    """Every (container, key) in a JSON document."""
    out = [] if out is None else out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((doc, k))
            slots(v, out)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append((doc, i))
            slots(v, out)
    return out


@st.composite
def mutated(draw, base):
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 5))):
        places = slots(doc)
        if not places:
            break
        container, key = places[draw(st.integers(0, len(places) - 1))]
        action = draw(st.sampled_from(["replace", "replace", "delete", "duplicate"]))
        if action == "replace":
            container[key] = draw(ANY_JSON)
        elif action == "delete":
            del container[key]
        elif isinstance(container, list):
            container.append(copy.deepcopy(container[key]))
        else:
            container[key + "_"] = copy.deepcopy(container[key])
    return doc
