"""Progress reporting: log lines with ETA, the tqdm bar, the progress file."""

import json
import logging
import os

import pytest

from components.common import progress, resume


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_log_lines_show_done_total_elapsed_and_eta(tmp_path, caplog):
    clock = FakeClock()
    path = str(tmp_path / "p.json")
    caplog.set_level(logging.INFO, logger=progress.__name__)
    reporter = progress.ProgressReporter("translation", 100, unit="record", path=path, interactive=False,
                                         log_every_s=10, write_every_s=0, clock=clock)
    clock.now += 5
    reporter.update(10)  # Under the log interval: no line yet.
    assert not [r for r in caplog.records if "translation:" in r.getMessage()]
    clock.now += 15
    reporter.update(30)  # 40 records in 20 s -> 60 left take 30 s.
    lines = [r.getMessage() for r in caplog.records if "translation:" in r.getMessage()]
    assert lines == ["translation: record 40/100 (40%), elapsed 20s, ETA 30s"]
    record = json.load(open(path))
    assert record["done"] == 40 and record["total"] == 100 and record["eta"] == pytest.approx(30.0)
    assert record["elapsed"] == pytest.approx(20.0) and record["state"] == progress.RUNNING
    assert record["updated_at"] == clock.now and record["stage"] == "translation"
    reporter.close()
    assert json.load(open(path))["state"] == progress.FINISHED


def test_resumed_work_does_not_inflate_the_rate():
    clock = FakeClock()
    reporter = progress.ProgressReporter("training", 10, unit="epoch", initial=5, path="", interactive=False, clock=clock)
    assert reporter.eta is None  # Nothing done in this process yet.
    clock.now += 60
    reporter.update(1)  # One epoch per minute; 4 left.
    assert reporter.eta == pytest.approx(240.0)


def test_track_in_a_terminal_draws_a_bar_and_writes_the_scope_progress_file(tmp_path, capsys):
    scope = resume.ExecutionScope(str(tmp_path), "DataTranslation", "3", "abc")
    with resume.execution_scope(scope):
        items = list(progress.track(range(7), "translation[train]", unit="record", interactive=True))
    assert items == list(range(7))
    bar = capsys.readouterr().err
    assert "translation[train]" in bar and "7/7" in bar
    record = progress.read_progress_dir(str(tmp_path))["DataTranslation"]
    assert record["done"] == 7 and record["state"] == progress.FINISHED and record["execution_id"] == "3"
    assert os.path.dirname(scope.progress_path) == os.path.join(str(tmp_path), resume.PROGRESS_DIR_NAME)


def test_a_loop_that_raises_leaves_a_running_record(tmp_path):
    path = str(tmp_path / "p.json")
    with pytest.raises(RuntimeError):
        for item in progress.track(range(5), "pseudo-labels", path=path, interactive=False):
            if item == 2:
                raise RuntimeError("boom")
    record = json.load(open(path))
    assert record["state"] == progress.RUNNING and record["done"] == 2


def test_format_duration():
    assert [progress.format_duration(s) for s in (None, 42, 185, 3720)] == ["?", "42s", "3m05s", "1h02m"]
