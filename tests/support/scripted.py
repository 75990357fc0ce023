"""A scripted model for agent tests: Inspect's mockllm through the Python API, with `usage` set
on every output (without it, Inspect would download a tokenizer to count tokens)."""

from __future__ import annotations

from typing import Any

from inspect_ai.model import Model, ModelOutput, ModelUsage, get_model


def _with_usage(output: ModelOutput) -> ModelOutput:
    output.usage = ModelUsage(input_tokens=20, output_tokens=10, total_tokens=30)
    return output


def tool_call(tool: str, **arguments: Any) -> ModelOutput:
    return _with_usage(ModelOutput.for_tool_call("mockllm/model", tool, arguments))


def answer(text: str) -> ModelOutput:
    return _with_usage(ModelOutput.from_content("mockllm/model", text))


def scripted(*outputs: ModelOutput) -> Model:
    return get_model("mockllm/model", custom_outputs=list(outputs))
