"""Official `openai` SDK Responses API against the running gateway: `responses.create(stream=True)`
for text and for function calls, and a non-streamed call. Prints a JSON summary.

Usage: python openai_responses.py BASE_URL API_KEY MODEL
"""

import json
import sys

from openai import OpenAI


def main() -> None:
    base_url, api_key, model = sys.argv[1], sys.argv[2], sys.argv[3]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    tools = [{"type": "function", "name": "get_weather", "description": "Weather",
              "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}]

    runs = {}
    for name, kwargs in (("text", {}), ("tools", {"tools": tools})):
        text, args, types, completed = "", {}, [], None
        stream = client.responses.create(model=model, input="Weather in Paris?", instructions="Be brief.", stream=True, **kwargs)
        for event in stream:
            types.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "response.output_item.done" and event.item.type == "function_call":
                args[event.item.name] = json.loads(event.item.arguments)
            elif event.type == "response.completed":
                completed = event.response
        runs[name] = {
            "text": text, "function_args": args, "first": types[0], "last": types[-1],
            "usage": {"input": completed.usage.input_tokens, "output": completed.usage.output_tokens, "total": completed.usage.total_tokens},
            "output_items": [item.type for item in completed.output],
            "output_text": completed.output_text,
        }

    full = client.responses.create(model=model, input="Paris?")
    runs["whole"] = {"text": full.output_text, "total": full.usage.total_tokens}

    refused = None
    try:
        client.responses.create(model=model, input="again", previous_response_id="resp_123")
    except Exception as e:
        refused = {"status": getattr(e, "status_code", None), "message": str(e)}
    runs["previous_response_id"] = refused
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
