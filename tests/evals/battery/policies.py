"""Scripted models that decide from the conversation (Inspect's mockllm with a callable), for tests
that run many samples at once: each sample gets its own answers, whatever order the samples run
in. `usage` is set on every output (without it, Inspect would download a tokenizer)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageTool,
    ChatMessageUser,
    Model,
    ModelOutput,
    ModelUsage,
    get_model,
)
from inspect_ai.tool import ToolCall

Policy = Callable[[list[ChatMessage]], ModelOutput]


def _usage(output: ModelOutput) -> ModelOutput:
    output.usage = ModelUsage(input_tokens=20, output_tokens=10, total_tokens=30)
    return output


def text(content: str) -> ModelOutput:
    return _usage(ModelOutput.from_content("mockllm/model", content))


def calls(*tool_calls: tuple[str, dict[str, Any]]) -> ModelOutput:
    """One assistant message with these tool calls (several make parallel calls)."""
    output = ModelOutput.for_tool_call("mockllm/model", tool_calls[0][0], tool_calls[0][1])
    output.message.tool_calls = [
        ToolCall(id=f"call_{i}", function=name, arguments=arguments)
        for i, (name, arguments) in enumerate(tool_calls)
    ]
    return _usage(output)


def call(tool: str, **arguments: Any) -> ModelOutput:
    return calls((tool, arguments))


def policy_model(policy: Policy) -> Model:
    def generate(messages: list[ChatMessage], *_: Any) -> ModelOutput:
        return policy(messages)

    return get_model("mockllm/model", custom_outputs=generate)


def prompt(messages: list[ChatMessage]) -> str:
    """The sample's input: the first user message."""
    return next(m.text for m in messages if isinstance(m, ChatMessageUser))


def turn(messages: list[ChatMessage]) -> int:
    """How many times the model has answered in this sample so far."""
    return sum(isinstance(m, ChatMessageAssistant) for m in messages)


def last_tool_output(messages: list[ChatMessage]) -> str:
    tools = [m for m in messages if isinstance(m, ChatMessageTool)]
    return tools[-1].text if tools else ""


def shown_choices(messages: list[ChatMessage]) -> dict[str, str]:
    """The choices as the multiple-choice template showed them: {letter: text}."""
    return dict(re.findall(r"(?m)^([A-Z])\) (.*)$", prompt(messages)))
