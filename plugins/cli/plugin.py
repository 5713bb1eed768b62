"""Scaffold, list and test trtforge plugins."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    from trtforge.analyzer.cli._args import not_yet_available

    return not_yet_available("trt-plugin", "issue #4")


if __name__ == "__main__":
    sys.exit(main())
