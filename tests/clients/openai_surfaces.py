"""Official `openai` SDK against the running gateway's legacy surfaces: completions passed
through (whole and streamed) and translated to chat (whole and streamed), and moderations
(served, and refused for a provider that cannot), and embeddings from a Gemini upstream (the SDK
asks for base64 by default and decodes it). Prints a JSON summary; exits non-zero on error.

Usage: python openai_surfaces.py BASE_URL API_KEY
"""

import json
import sys

from openai import BadRequestError, OpenAI


def streamed(client: OpenAI, model: str) -> tuple[str, str | None]:
    text, finish = "", None
    for chunk in client.completions.create(model=model, prompt="Say hi", stream=True):
        for choice in chunk.choices:
            text += choice.text or ""
            finish = choice.finish_reason or finish
    return text, finish


def main() -> None:
    base_url, api_key = sys.argv[1], sys.argv[2]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

    full = client.completions.create(model="full/instruct-1", prompt="Say hi", max_tokens=7)
    passthrough_stream, _ = streamed(client, "full/instruct-1")
    translated = client.completions.create(model="plain/chat-1", prompt="Say hi")
    translated_stream, translated_finish = streamed(client, "plain/chat-1")

    moderation = client.moderations.create(model="full/omni-mod", input="I want to kill them.")
    error_status = None
    try:
        client.moderations.create(model="plain/chat-1", input="x")
    except BadRequestError as e:
        error_status = e.status_code

    embedding = client.embeddings.create(model="gem/gemini-embedding-001", input="hi").data[0].embedding

    print(json.dumps({
        "passthrough_text": full.choices[0].text,
        "usage_total": full.usage.total_tokens if full.usage else None,
        "passthrough_stream_text": passthrough_stream,
        "translated_text": translated.choices[0].text,
        "translated_stream_text": translated_stream,
        "translated_finish": translated_finish,
        "moderation_flagged": moderation.results[0].flagged,
        "moderation_error_status": error_status,
        "gemini_embedding": embedding,
    }))


if __name__ == "__main__":
    main()
