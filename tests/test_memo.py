import tracemalloc

import orjson

from graphtrail.memo import ByteBudgetMemo


def test_memo_starts_over_when_its_keys_pass_the_budget() -> None:
    memo: ByteBudgetMemo[int] = ByteBudgetMemo(budget=100)
    for number in range(10):
        memo.put(b"%09d" % number, number)  # 9 bytes each: 90 in all
    assert len(memo) == 10 and memo.get(b"000000003") == 3
    memo.put(b"0123456789AB", 99)  # 102 bytes: over, so it starts over with this key alone
    assert len(memo) == 1
    assert memo.get(b"000000003") is None
    assert memo.get(b"0123456789AB") == 99


def test_memo_keeps_a_compact_copy_of_an_orjson_key() -> None:
    memo: ByteBudgetMemo[str] = ByteBudgetMemo(budget=1 << 20)
    memo.put(b"warm", "the dict's first table")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        key = orjson.dumps({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"})
        memo.put(key, "alice")
        del key
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 512  # the 4 KiB buffer orjson returned is not what the memo holds
    assert memo.get(orjson.dumps({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"})) == "alice"
