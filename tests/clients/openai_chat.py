"""Official `openai` SDK against the running gateway: streamed chat (with tools when asked),
non-streamed chat, and model listing. Prints a JSON summary on stdout; exits non-zero on error.

Usage: python openai_chat.py BASE_URL API_KEY MODEL
"""

import json
import sys

from openai import OpenAI


def main() -> None:
    base_url, api_key, model = sys.argv[1], sys.argv[2], sys.argv[3]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

    models = [m.id for m in client.models.list()]

    text = ""
    chunks = 0
    finish = None
    with client.chat.completions.create(
        model=model,
        stream=True,
        messages=[{"role": "user", "content": "say hello"}],
    ) as stream:
        for chunk in stream:
            chunks += 1
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    text += choice.delta.content
                if choice.finish_reason:
                    finish = choice.finish_reason

    usage_stream = None
    stream = client.chat.completions.create(
        model=model,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "count tokens"}],
    )
    for chunk in stream:
        if chunk.usage is not None:
            usage_stream = chunk.usage.total_tokens

    full = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "once more"}])

    error_status = None
    try:
        client.chat.completions.create(model="no-such/model-x", messages=[{"role": "user", "content": "x"}])
    except Exception as e:  # the SDK raises a typed APIStatusError subclass
        error_status = getattr(e, "status_code", None)

    print(json.dumps({
        "models": models,
        "stream_text": text,
        "stream_chunks": chunks,
        "finish_reason": finish,
        "stream_usage_total": usage_stream,
        "full_text": full.choices[0].message.content,
        "full_usage_total": full.usage.total_tokens if full.usage else None,
        "error_status": error_status,
    }))


if __name__ == "__main__":
    main()
