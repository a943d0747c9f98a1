"""The ``evokd`` command: parse the flags, dispatch to a subcommand, turn failures into exit codes.

    evokd run --data rotten_tomatoes --shots 1 --rounds 4      # distil (local teacher if no URL)
    evokd resume runs/<name>                                   # continue a stopped or crashed run
    evokd inspect runs/<name> [--round N] [--json]             # rounds, analyses, samples, metrics
    evokd report runs/<name>                                   # one self-contained report.html
    evokd predict|export|retrain runs/<name> ...               # use, ship or re-train the student (handoff)
    evokd teacher fetch|serve                                  # the offline local teacher
    evokd data list|fetch NAME                                 # bundled real datasets
    evokd bench --datasets rotten_tomatoes --seeds 1,2,3       # methods at an equal teacher budget; speed

Errors a user can fix print one line and exit 2; a teacher that stays down exits 3 with the run
checkpointed for `evokd resume`. The modules: `flags` (the parser; run flags derived from `Context`),
`run` (run and resume), `handoff` (predict, export, retrain), `tools` (the other subcommands), `console`
(progress lines and tables).
"""

from __future__ import annotations

import os
import sys
import time

from evokd.cli.flags import UsageError, parser

__all__ = ["UsageError", "main", "parser", "user_errors"]


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input, shown as one line with exit code 2."""
    from evokd.checkpoint import CheckpointError
    from evokd.cli.inspection import RunNotFound
    from evokd.data.formats import DataError
    from evokd.data.registry import DataNotFound
    from evokd.prompts import PromptError
    from evokd.settings import SettingError
    from evokd.student.model import StudentError

    return (UsageError, DataError, DataNotFound, PromptError, StudentError, RunNotFound, CheckpointError, SettingError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``evokd`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub at run time
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # our own progress lines replace theirs
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    args = parser().parse_args(argv)
    if getattr(args, "api_key", None):
        os.environ["OPENAI_API_KEY"] = args.api_key  # kept in this process only, never written
    if args.command == "run" and not args.out:
        args.out = f"runs/{time.strftime('%Y%m%d-%H%M%S')}"
    from evokd.cli.console import console
    from evokd.teacher.client import TeacherUnavailable
    from evokd.teacher.local import TeacherError

    run_dir = getattr(args, "out", "") or getattr(args, "run_dir", "RUN_DIR")  # `resume` has no --out
    try:
        return int(args.handler(args))
    except user_errors() as e:
        print(f"evokd: error: {e}", file=sys.stderr)
        return 2
    except (TeacherUnavailable, TeacherError) as e:
        where = (
            f"; the run is checkpointed: continue with 'evokd resume {run_dir}'"
            if args.command in ("run", "resume")
            else ""
        )
        print(f"evokd: teacher error: {e}{where}", file=sys.stderr)
        return 3
    except EOFError:  # stdin ended while a review was waiting for a reply
        print(
            f"evokd: no reply to the review (end of input); the run is paused: continue with 'evokd resume {run_dir}'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        console.print("interrupted; a started run can be continued with 'evokd resume RUN_DIR'", style="yellow")
        return 130
