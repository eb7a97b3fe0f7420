"""Options shared by every command that reads an image, and their translation into settings."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from imagetrust.cli.console import configure_logging
from imagetrust.errors import UsageError
from imagetrust.oci.platform import Platform
from imagetrust.pipeline.settings import SourceSettings
from imagetrust.registry.options import RegistryOptions
from imagetrust.registry.resolve import PlatformSelection

F = TypeVar("F", bound=Callable[..., Any])

_SOURCE_OPTIONS = [
    click.option(
        "--platform",
        "platform_text",
        metavar="OS/ARCH[/VARIANT]",
        help="Platform to take from a multi-platform index (default: this machine's).",
    ),
    click.option("--all-platforms", is_flag=True, help="Take every platform from a multi-platform index."),
    click.option(
        "--insecure-registry",
        "insecure_registries",
        multiple=True,
        metavar="HOST[:PORT]",
        help="Allow plain HTTP to this registry (loopback registries are always allowed).",
    ),
    click.option(
        "--registry-ca",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="PEM file of CA certificates to trust for registry TLS.",
    ),
    click.option("--username", help="Registry user name (with --password-stdin)."),
    click.option("--password-stdin", is_flag=True, help="Read the registry password from standard input."),
    click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Content cache directory (default: $XDG_CACHE_HOME/imagetrust).",
    ),
    click.option("--no-cache", is_flag=True, help="Do not read or write the content cache."),
]


def source_options(func: F) -> F:
    for option in reversed(_SOURCE_OPTIONS):
        func = option(func)
    return func


def output_options(func: F) -> F:
    func = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the document to FILE instead of standard output.",
    )(func)
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Document format.",
    )(func)


def build_settings(
    *,
    platform_text: str | None,
    all_platforms: bool,
    insecure_registries: tuple[str, ...],
    registry_ca: Path | None,
    username: str | None,
    password_stdin: bool,
    cache_dir: Path | None,
    no_cache: bool,
) -> SourceSettings:
    if platform_text and all_platforms:
        raise UsageError("--platform and --all-platforms cannot be used together")
    if password_stdin and not username:
        raise UsageError("--password-stdin needs --username")
    if username and not password_stdin:
        raise UsageError("--username needs --password-stdin (passwords are never taken as arguments)")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: no password on standard input")
    platform = Platform.parse(platform_text) if platform_text else None
    selection = PlatformSelection(
        platform=platform, all_platforms=all_platforms, explicit=platform is not None
    )
    registry = RegistryOptions(
        insecure_registries=frozenset(insecure_registries),
        ca_file=registry_ca,
        username=username,
        password=password,
    )
    if not no_cache:
        configure_logging(0)  # the cache may warn; a -v given earlier already set the level
    return SourceSettings(registry=registry, selection=selection, cache_dir=cache_dir, use_cache=not no_cache)
