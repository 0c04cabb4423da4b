import socket
from typing import Literal

from pydantic import Field

from services.search.model_build import DEFAULT_DIR
from shared.config import ServiceSettings


class SearchSettings(ServiceSettings):
    service_name: str = "search"
    http_port: int = 8082
    embedding_model: str = Field(str(DEFAULT_DIR), description="sentence-transformers model name or path")
    instance_name: str = Field(default_factory=socket.gethostname, description="Names this replica's own queue")
    catchup_page_size: int = 500
    max_query_chars: int = 2000
    subject_weight: float = Field(2.0, description="How much a course takes the score of the best course of its "
                                  "subject (learner_dev nDCG@10 0.592 at 1, 0.596 at 2, 0.594 at 3; occupations dev "
                                  "0.687, 0.687, 0.680)")
    max_passage_tokens: int = Field(256, ge=32, le=512, description="Course texts are cut here before embedding "
                                    "(their start says most; 256 scored better than 512 on the dev set, and is faster)")
    query_backend: str = Field("onnx-int8", pattern="^(onnx-int8|torch)$",
                               description="Queries through the int8 ONNX encoder built next to the model "
                                           "(about 2.5x faster), or through sentence-transformers")
    expand_query: Literal["all", "other", "replace", "none"] = Field(
        "other", description="Search with the Swedish names of the occupations understood before the learner's own "
                             "words: for 'all' texts, for 'other' than Swedish ones, in place of the words of other "
                             "than Swedish ones ('replace'), or 'none' (learner_dev nDCG@10: 0.354, 0.364, 0.355, 0.319 "
                             "with area_weight 0.03)")
    area_weight: float = Field(0.06, description="Bonus for a course of the vocational exits and programme area "
                               "that lead to the occupation the learner wants (or worked in), or of a general subject "
                               "named; learner_dev nDCG@10 0.319 at 0, 0.486 at 0.03 and 0.06, 0.481 at 0.1 "
                               "(occupations dev 0.467, 0.636, 0.661, 0.661)")
    fit_floor: float = Field(0.85, description="A result scoring below this is not a match (`fit` null). Read off "
                             "by scripts/calibrate_fit.py: the line that keeps the best labelled hit of 95 % of the dev "
                             "and learner_dev queries is 0.857 (11 of 16 wishes no course leads to then get no match); "
                             "0.85 is kept, a little more lenient, because at 0.857 a wish named only by its field "
                             "('restaurang och kök', tests/test_personas.py) loses most of its courses near home")
    fit_strong: float = Field(0.928, description="A result scoring at least this is a strong match (`fit` \"strong\", "
                              "else \"partial\"): above it half the dev results are labelled relevant")
    entry_weight: float = Field(0.005, description="Bonus for a trade's first course (adult learners start at level "
                                "1; not in general subjects, where a learner starts where their grades end). With "
                                "SPECIALISATION_WEIGHT 0.04: learner_dev nDCG@10 0.493 -> 0.536, every language up; "
                                "occupations dev 0.658 -> 0.631 (its definitions name specialisations too); handel "
                                "0.253 -> 0.248 and IT 0.547 -> 0.534. 0 turns it off")
    specialisation_weight: float = Field(0.04, description="Taken off a specialisation course (xxx00S, also in general "
                                         "subjects): it comes after the series it specialises; alone at 0.04: "
                                         "learner_dev 0.514, occupations dev 0.654")
    title_weight: float = Field(0.0, description="Bonus when a course title stands word for word in the query")
    embed_worker: bool = Field(True, description="Embed texts in this process too (a worker on the shared "
                               "queue); false where separate `embed-worker` processes do it")
    passage_backend: str = Field("torch", pattern="^(onnx-int8|torch)$",
                                 description="Course texts through sentence-transformers (also on a GPU), or "
                                             "through the int8 ONNX encoder on CPU (no faster on AVX2 without "
                                             "VNNI, and dev nDCG@10 0.453 against 0.467)")
    embed_device: str = Field("auto", pattern="^(auto|cpu|cuda)$",
                              description="Where passages are embedded: cuda when a GPU exists (auto), or cpu")
