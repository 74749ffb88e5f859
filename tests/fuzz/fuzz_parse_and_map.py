"""Coverage-guided fuzzing of the parse-and-map path with atheris.

Not part of the test suite (it runs until stopped). Any exception other than
MappingError is a crash: add its input to tests/hostile_inputs.py as a case.

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/fuzz_parse_and_map.py -max_total_time=120 -max_len=2048

Seeds: the bundled sample events (examples/events.jsonl), one per line.
"""

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from transforms import MappingError, decode_events, load_settings, map_event

SETTINGS = [load_settings(site_id="s", api_key="k", api_version=v) for v in ("v1", "v2")]


def one_input(data: bytes) -> None:
    for item in decode_events(data):
        if isinstance(item, MappingError):
            continue
        for settings in SETTINGS:
            try:
                map_event(item, settings)
            except MappingError:
                pass


def main() -> None:
    corpus = Path(__file__).resolve().parents[2] / "out" / "fuzz-corpus"
    if not corpus.exists():
        corpus.mkdir(parents=True)
        sample = Path(__file__).resolve().parents[2] / "examples" / "events.jsonl"
        for i, line in enumerate(sample.read_bytes().splitlines()[:200]):
            (corpus / f"seed-{i}").write_bytes(line)
    atheris.Setup([sys.argv[0], str(corpus), *sys.argv[1:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
