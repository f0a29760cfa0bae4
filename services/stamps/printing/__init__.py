"""A batch's printing outputs: QR codes (SVG, PNG), CSV and ZIP exports, PDF label sheets, all streamed.

The library (``qr``, ``labels``, ``exports``, ``sheets``, ``pdf``) holds no SQL: the caller reads the stamps
and passes them as an async iterator; each output is an async iterator of byte chunks, so a batch of any
size is printed in bounded memory. The package's routes (``router``, ``service``, ``repository``) serve
them, read the stamps from a server-side cursor and record each download (``models.PrintDownload``).
"""
