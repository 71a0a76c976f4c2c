"""StageTimer: side work's wait is counted in the stage that started it."""

import time
from concurrent.futures import ThreadPoolExecutor

from generation.portrait.timing import StageTimer


def test_waiting_for_side_work_is_added_to_its_stage_without_announcing_it_again():
    heard: list[str] = []
    timer = StageTimer(heard.append)
    with ThreadPoolExecutor(1) as side:
        with timer("embed_input"):
            work = side.submit(lambda: (time.sleep(0.05), "descriptor")[1])
        with timer("segment"):
            pass
        assert timer.collect("embed_input", work) == "descriptor"
    assert heard == ["embed_input", "segment"]
    assert timer.ms["embed_input"] >= 30  # most of the 50 ms was spent waiting
