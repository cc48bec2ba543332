"""Official `openai` SDK's Responses WebSocket mode (`client.responses.connect()`) against the
running gateway: a tool call, then its result sent on the same socket chained by
`previous_response_id` with only the new items, then a bad request answered by an error event.
Prints a JSON summary.

Usage: python openai_responses_ws.py BASE_URL API_KEY MODEL
"""

import json
import sys

from openai import OpenAI


def turn(conn):
    """The events of one response, up to its terminal event or an error."""
    events = []
    for event in conn:
        events.append(event)
        if event.type in ("response.completed", "response.failed", "response.incomplete", "error"):
            break
    return events


def main() -> None:
    base_url, api_key, model = sys.argv[1], sys.argv[2], sys.argv[3]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    tools = [{"type": "function", "name": "get_weather", "description": "Weather",
              "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}]
    out = {}
    with client.responses.connect(max_retries=0) as conn:
        conn.response.create(model=model, input="Weather in Paris?", instructions="Be brief.", tools=tools, store=False)
        first = turn(conn)
        calls = [e.item for e in first if e.type == "response.output_item.done" and e.item.type == "function_call"]
        done = first[-1]
        out["first"] = {"types": [e.type for e in first], "calls": [c.name for c in calls],
                        "args": [json.loads(c.arguments) for c in calls]}
        conn.response.create(
            model=model, instructions="Be brief.", tools=tools, store=False,
            previous_response_id=done.response.id,
            input=[{"type": "function_call_output", "call_id": c.call_id, "output": "sunny, 21 C"} for c in calls],
        )
        second = turn(conn)
        out["second"] = {"types": [e.type for e in second],
                         "text": "".join(e.delta for e in second if e.type == "response.output_text.delta"),
                         "output_text": second[-1].response.output_text if second[-1].type == "response.completed" else None}
        conn.response.create(model="nobody/none", input="x")
        bad = turn(conn)
        out["bad"] = json.loads(bad[-1].to_json()) if bad else None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
