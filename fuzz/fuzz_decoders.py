"""atheris (libFuzzer) entry point for one decoder target of fuzz/targets.py.

    python fuzz/fuzz_decoders.py TARGET [CORPUS_DIR ...] [libFuzzer flags]

e.g. ``python fuzz/fuzz_decoders.py message fuzz/corpus/message -max_total_time=60``.
A crash (any exception other than tss.TssError, or a non-canonical decode) stops the run with a
non-zero exit code and writes the input to the artifact prefix (default: the current
directory; fuzz-short.sh uses fuzz/crashes/).
"""

from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["tss"]):
    import targets  # noqa: E402


def main() -> None:
    if len(sys.argv) < 2 or (sys.argv[1] not in targets.TARGETS and sys.argv[1] != "all"):
        sys.exit(f"usage: {sys.argv[0]} TARGET [libFuzzer args]; targets: "
                 f"{' '.join(targets.TARGETS)} all")
    name = sys.argv[1]

    def one_input(data: bytes) -> None:
        targets.check(name, data)

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
