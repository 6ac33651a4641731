"""The Typer layer: one module per noun, one thin function per verb."""
