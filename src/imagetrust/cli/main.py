"""Entry point and the single catch site that turns errors into one line and an exit code."""

from __future__ import annotations

import logging
import sys

import click

from imagetrust import __version__
from imagetrust.cli.attest_cmd import attest_command
from imagetrust.cli.audit_cmd import audit_command
from imagetrust.cli.check_cmd import check_command
from imagetrust.cli.console import Console
from imagetrust.cli.db_cmd import db_command
from imagetrust.cli.inspect_cmd import inspect_command
from imagetrust.cli.promote_cmd import promote_command
from imagetrust.cli.rescan_cmd import rescan_command
from imagetrust.cli.serve_cmd import serve_command
from imagetrust.cli.verify_blob_cmd import verify_blob_command
from imagetrust.cli.verify_cmd import verify_command
from imagetrust.cli.watch_cmd import watch_command
from imagetrust.errors import ExitCode, ImageTrustError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="imagetrust")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeat for debug logs).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Decide whether a container image can be trusted, and show why.

    Exit codes: 0 ok, 1 a check failed, 2 usage or configuration error, 3 could not check
    (network, registry, missing data).
    """
    console = Console.from_environment(verbose=0 if quiet else verbose, quiet=quiet)
    ctx.obj = console
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="imagetrust: %(message)s")


cli.add_command(audit_command)
cli.add_command(check_command)
cli.add_command(attest_command)
cli.add_command(promote_command)
cli.add_command(db_command)
cli.add_command(inspect_command)
cli.add_command(verify_command)
cli.add_command(verify_blob_command)
cli.add_command(rescan_command)
cli.add_command(serve_command)
cli.add_command(watch_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code; every failure becomes one line on stderr."""
    verbose = any(a in ("-v", "-vv", "--verbose") for a in (argv or sys.argv[1:]))
    try:
        cli.main(args=argv, prog_name="imagetrust", standalone_mode=False)
    except ImageTrustError as e:
        click.echo(f"imagetrust: error: {e.diagnostics()}", err=True)
        return int(e.exit_code)
    except click.exceptions.Abort:
        click.echo("imagetrust: aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        click.echo("imagetrust: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception as e:  # the last line of defence: fail closed, never a traceback unless asked
        if verbose:
            raise
        click.echo(
            f"imagetrust: internal error: {type(e).__name__}: {e} (could not check; rerun with -v for"
            " details and please report it)",
            err=True,
        )
        return int(ExitCode.INDETERMINATE)
    return int(ExitCode.OK)


def entry() -> None:
    sys.exit(main())
