"""A batch's printing outputs: QR codes (SVG, PNG), CSV and ZIP exports, PDF label sheets, all streamed.

Pure library code: the caller reads the stamps (no SQL here) and passes them as an async iterator; each
output is an async iterator of byte chunks, so a batch of any size is printed in bounded memory.
"""
