#!/usr/bin/python3
"""Renders lines of text into an image with PIL and the DejaVu fonts
(fonts-dejavu-core): the known-text images the OCR test and the quick start
read.

usage: render_text.py OUT.png [--font NAME] [--size PX] [--rotate 180] LINE [LINE ...]
"""
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"


def render(lines, font="DejaVuSans", size=32, fg=(20, 20, 20), bg=(255, 255, 255), rotate=0, margin=None):
    f = ImageFont.truetype(FONT_DIR + font + ".ttf", size)
    margin = margin if margin is not None else max(12, size // 2)
    gap = size // 2
    boxes = [f.getbbox(line) for line in lines]
    width = max(b[2] for b in boxes) + 2 * margin
    height = sum(b[3] for b in boxes) + gap * (len(lines) - 1) + 2 * margin
    im = Image.new("RGB", (width, height), bg)
    d = ImageDraw.Draw(im)
    y = margin
    for line, b in zip(lines, boxes):
        d.text((margin, y), line, fill=fg, font=f)
        y += b[3] + gap
    return im.rotate(rotate, expand=True, fillcolor=bg) if rotate else im


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    out, opts, lines = args[0], {"font": "DejaVuSans", "size": 32, "rotate": 0}, []
    rest = args[1:]
    while rest:
        if rest[0] in ("--font", "--size", "--rotate") and len(rest) > 1:
            opts[rest[0][2:]] = rest[1] if rest[0] == "--font" else int(rest[1])
            rest = rest[2:]
        else:
            lines.append(rest.pop(0))
    render(lines, **opts).save(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
