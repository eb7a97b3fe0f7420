"""Entry point and the single catch site that turns errors into one line and an exit code."""

from __future__ import annotations

import importlib
import sys

import click

from imagetrust import __version__
from imagetrust.cli.console import Console, configure_logging
from imagetrust.errors import ExitCode, ImageTrustError

# name -> "module:attribute"; a command's module (and what it imports: sigstore, the audit stack) is loaded
# only when that command runs, so `imagetrust verify --key` does not pay for what it does not use.
_COMMANDS = {
    "attest": "imagetrust.cli.attest_cmd:attest_command",
    "audit": "imagetrust.cli.audit_cmd:audit_command",
    "check": "imagetrust.cli.check_cmd:check_command",
    "db": "imagetrust.cli.db_cmd:db_command",
    "inspect": "imagetrust.cli.inspect_cmd:inspect_command",
    "promote": "imagetrust.cli.promote_cmd:promote_command",
    "rescan": "imagetrust.cli.rescan_cmd:rescan_command",
    "serve": "imagetrust.cli.serve_cmd:serve_command",
    "verify": "imagetrust.cli.verify_cmd:verify_command",
    "verify-blob": "imagetrust.cli.verify_blob_cmd:verify_blob_command",
    "watch": "imagetrust.cli.watch_cmd:watch_command",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
    if verbose:
        configure_logging(verbose)


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
