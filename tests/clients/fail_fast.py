"""Official SDKs with their default retries (2, honouring Retry-After up to 60 s) against a
gateway refusal: how long each takes to give up, and what it says. Prints a JSON summary.

Usage: python fail_fast.py OPENAI_BASE_URL ANTHROPIC_BASE_URL API_KEY MODEL
"""

import json
import sys
import time

import anthropic
import openai


def timed(call):
    t0 = time.monotonic()
    try:
        call()
        return {"ok": True, "seconds": time.monotonic() - t0}
    except (openai.APIStatusError, anthropic.APIStatusError) as e:
        return {"ok": False, "seconds": time.monotonic() - t0, "status": e.status_code, "message": str(e),
                "should_retry": e.response.headers.get("x-should-retry"),
                "retry_after": e.response.headers.get("retry-after")}


def main() -> None:
    openai_base, anthropic_base, key, model = sys.argv[1:5]
    msgs = [{"role": "user", "content": "hello"}]
    oa = openai.OpenAI(base_url=openai_base, api_key=key, timeout=120)
    an = anthropic.Anthropic(base_url=anthropic_base, api_key=key, timeout=120)
    out = {
        "openai": timed(lambda: oa.chat.completions.create(model=model, messages=msgs)),
        "anthropic": timed(lambda: an.messages.create(model=model, max_tokens=50, messages=msgs)),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
