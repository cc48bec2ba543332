"""Official `openai` SDK: a streamed chat completion with tools, tool calls reassembled by index.

Usage: python openai_tools.py BASE_URL API_KEY MODEL
"""

import json
import sys

from openai import OpenAI


def main() -> None:
    base_url, api_key, model = sys.argv[1], sys.argv[2], sys.argv[3]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "additionalProperties": False, "$schema": "http://json-schema.org/draft-07/schema#",
            "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {
            "type": "object", "properties": {"timezone": {"type": "string"}}}}},
    ]
    calls, finish, usage = {}, None, None
    stream = client.chat.completions.create(model=model, stream=True, tools=tools, tool_choice="auto",
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "Weather in Paris, time in Tokyo"}])
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage.total_tokens
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"name": "", "arguments": "", "id": None})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
            if choice.finish_reason:
                finish = choice.finish_reason
    print(json.dumps({"calls": [{"name": c["name"], "args": json.loads(c["arguments"]), "has_id": bool(c["id"])}
                                for _, c in sorted(calls.items())], "finish": finish, "usage": usage}))


if __name__ == "__main__":
    main()
