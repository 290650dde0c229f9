"""`make mutation`'s report: the per-module table judges the 85 % goal, and a full run writes it, with its
survivors, between the markers of bench/README.md without touching the rest of the file."""
from bench import mutation

ROWS = [
    {"module": "app/a.py", "mutants": 20, "killed": 17, "survivors": ["app.a.x__mutmut_1"], "share": 0.85,
     "met": True},
    {"module": "app/b.py", "mutants": 10, "killed": 8, "survivors": ["app.b.y__mutmut_3", "app.b.y__mutmut_4"],
     "share": 0.8, "met": False},
]


def test_the_table_shows_each_modules_share_and_verdict():
    lines = mutation.table(ROWS).splitlines()
    assert lines[2] == "| `app/a.py` | 20 | 17 | 85.0% | yes |"
    assert lines[3] == "| `app/b.py` | 10 | 8 | 80.0% | NO |"


def test_a_full_run_writes_its_table_between_the_markers_only(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Bench\nbefore\n{mutation.MARKERS[0]}\nold table\n{mutation.MARKERS[1]}\nafter\n")
    monkeypatch.setattr(mutation, "README", readme)
    mutation.update_readme(ROWS, minutes=19.6)
    text = readme.read_text()
    assert text.startswith("# Bench\nbefore\n") and text.endswith(f"{mutation.MARKERS[1]}\nafter\n")
    assert "old table" not in text
    assert "(20 minutes, 2 mutants at a time)" in text
    assert "Survivors: `app.a.x__mutmut_1`, `app.b.y__mutmut_3`, `app.b.y__mutmut_4`." in text
    assert mutation.table(ROWS) in text


def test_mutmut_copies_every_top_level_entry_the_tests_may_read():
    """mutmut runs the tests in a copy (mutants/) holding only `also_copy`: a new top-level folder left out
    breaks `make mutation`'s first, clean run (blackbox/ did: a compose check found its mount missing)."""
    import subprocess
    import tomllib
    tracked = set(subprocess.run(["git", "ls-files"], cwd=mutation.REPO, capture_output=True, text=True,
                                 check=True).stdout.split())
    top_level = {path.split("/", 1)[0] for path in tracked}
    settings = tomllib.loads((mutation.REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    missing = sorted(top_level - set(settings["also_copy"]))
    assert not missing, f"not in [tool.mutmut] also_copy: {missing}"
