"""Official `openai` SDK against the running gateway's multipart and audio surfaces: a real WAV
file (a few hundred ms of sine, written with `wave`) transcribed and translated, a small PNG
edited with a second image and a mask, speech read as a stream of bytes, and a transcription
refused for a provider that cannot serve it. The files are written to WORK_DIR so the test can
compare them with what the upstream received. Prints a JSON summary; exits non-zero on error.

Usage: python openai_audio.py BASE_URL API_KEY WORK_DIR
"""

import hashlib
import json
import math
import os
import struct
import sys
import wave
import zlib

from openai import BadRequestError, OpenAI


def write_wav(path: str, seconds: float = 0.3, rate: int = 16000) -> None:
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(int(seconds * rate))
    )
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def write_png(path: str, rgba: tuple[int, int, int, int], size: int = 4) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgba) * size
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(row * size))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def main() -> None:
    base_url, api_key, work = sys.argv[1], sys.argv[2], sys.argv[3]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    wav = os.path.join(work, "tone.wav")
    write_wav(wav)
    one, two, mask = (os.path.join(work, n) for n in ("one.png", "two.png", "mask.png"))
    write_png(one, (255, 0, 0, 255))
    write_png(two, (0, 0, 255, 255))
    write_png(mask, (0, 0, 0, 0))

    with open(wav, "rb") as f:
        verbose = client.audio.transcriptions.create(
            model="stt", file=f, language="en", response_format="verbose_json", timestamp_granularities=["word"]
        )
    with open(wav, "rb") as f:
        plain = client.audio.transcriptions.create(model="openai/whisper-1", file=f)
    with open(wav, "rb") as f:
        translated = client.audio.translations.create(model="openai/whisper-1", file=f)

    with open(one, "rb") as a, open(two, "rb") as b, open(mask, "rb") as m:
        edited = client.images.edit(model="edit/image-1", image=[a, b], mask=m, prompt="Add a sea otter")

    with client.audio.speech.with_streaming_response.create(
        model="openai/tts-1", voice="alloy", input="Hello there, world!"
    ) as resp:
        speech_type = resp.headers.get("content-type")
        audio = b"".join(resp.iter_bytes())

    refused = None
    try:
        with open(wav, "rb") as f:
            client.audio.transcriptions.create(model="plain/chat-1", file=f)
    except BadRequestError as e:
        refused = e.status_code

    print(json.dumps({
        "verbose_text": verbose.text,
        "verbose_duration": verbose.duration,
        "plain_text": plain.text,
        "translated_text": translated.text,
        "edit_images": len(edited.data or []),
        "speech_type": speech_type,
        "speech_len": len(audio),
        "speech_sha256": hashlib.sha256(audio).hexdigest(),
        "refused_status": refused,
    }))


if __name__ == "__main__":
    main()
