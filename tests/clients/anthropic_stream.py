"""Official `anthropic` SDK against the running gateway: `messages.stream` with tools, then with
extended thinking, plus a plain `messages.create`. Prints a JSON summary; exits non-zero on error.

Usage: python anthropic_stream.py BASE_URL API_KEY MODEL
"""

import json
import sys

import anthropic


def summarize(message):
    out = {"text": "", "tools": [], "thinking": "", "stop_reason": message.stop_reason,
           "input_tokens": message.usage.input_tokens, "output_tokens": message.usage.output_tokens}
    for block in message.content:
        if block.type == "text":
            out["text"] += block.text
        elif block.type == "tool_use":
            out["tools"].append({"name": block.name, "input": block.input, "id": block.id})
        elif block.type == "thinking":
            out["thinking"] += block.thinking
    return out


def main() -> None:
    base_url, api_key, model = sys.argv[1], sys.argv[2], sys.argv[3]
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    tools = [
        {"name": "get_weather", "description": "Weather in a city",
         "input_schema": {"type": "object", "properties": {"location": {"type": "string"},
                                                             "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                          "required": ["location"]}},
        {"name": "get_time", "description": "Time in a zone",
         "input_schema": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}},
    ]
    deltas = 0
    with client.messages.stream(model=model, max_tokens=1024, tools=tools,
                                messages=[{"role": "user", "content": "Weather in Paris and time in Tokyo?"}]) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                deltas += 1
        tool_msg = stream.get_final_message()

    with client.messages.stream(model=model, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048},
                                messages=[{"role": "user", "content": "How many r's in strawberry?"}]) as stream:
        thinking_msg = stream.get_final_message()

    plain = client.messages.create(model=model, max_tokens=256, messages=[{"role": "user", "content": "Paris?"}])
    count = client.messages.count_tokens(model=model, messages=[{"role": "user", "content": "count me please"}])

    print(json.dumps({"tools": summarize(tool_msg), "thinking": summarize(thinking_msg), "plain": summarize(plain),
                      "deltas": deltas, "count": count.input_tokens}))


if __name__ == "__main__":
    main()
