"""The `gradcore` command: gradcore info | train | evaluate | bench."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence


def _cmd_info(args: argparse.Namespace) -> int:
    from gradcore._runtime import format_info

    print(format_info())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gradcore", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p_info = sub.add_parser("info", help="show version, compiler, threads, SIMD path, CUDA")
    p_info.set_defaults(func=_cmd_info)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Optional[Callable[[argparse.Namespace], int]] = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
