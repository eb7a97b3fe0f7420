"""``imagetrust inspect``: what an image is, and what is attached to it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from imagetrust.cli.console import write_document
from imagetrust.cli.options import build_settings, output_options, source_options
from imagetrust.pipeline.inspect import inspect_image
from imagetrust.report.inspect import inspect_document, inspect_text


@click.command("inspect")
@click.argument("image")
@source_options
@output_options
def inspect_command(
    image: str,
    output_format: str,
    output: Path | None,
    **source: object,
) -> None:
    """Show IMAGE's digest, platforms, layers, config and attached signatures.

    IMAGE is a registry reference (alpine, registry.example/repo:tag, repo@sha256:...) or an offline
    source: oci:PATH[:TAG], oci-archive:PATH[:TAG], docker-archive:PATH[:TAG].
    """
    settings = build_settings(**source)  # type: ignore[arg-type]
    result = inspect_image(image, settings)
    if output_format == "json":
        text = json.dumps(inspect_document(result), indent=2) + "\n"
    else:
        text = inspect_text(result)
    write_document(text, output)
