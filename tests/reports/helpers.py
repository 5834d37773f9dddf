"""Read PDFs the way a person would: their text (pdftotext) and page 1 as a PNG (pdftoppm)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from PIL import Image


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(  # noqa: S603
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True  # noqa: S607
    )
    return " ".join(out.stdout.decode().split())


def page_count(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True)  # noqa: S603,S607
    line = next(li for li in out.stdout.decode().splitlines() if li.startswith("Pages:"))
    return int(line.split()[1])


def first_page_png(pdf: bytes, tmp_path: Path) -> Image.Image:
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    subprocess.run(  # noqa: S603
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", str(path),  # noqa: S607
         str(tmp_path / "page")],
        check=True,
    )
    data = (tmp_path / "page.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.load()
    return image


def pixels(image: Image.Image) -> list[tuple[int, int, int]]:
    """The RGB pixels of ``image``, row by row."""
    data = image.convert("RGB").tobytes()
    return [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3)]


def has_colour(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels are within ``tolerance`` of ``rgb`` on every channel."""
    return sum(
        1
        for px in pixels(image)
        if all(abs(a - b) <= tolerance for a, b in zip(px, rgb, strict=True))
    )
