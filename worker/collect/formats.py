"""Which reader a delivery needs: by its content first (an XLSX is a zip), then by its name; an HTTP body
is JSON."""

from __future__ import annotations

from tongket.worker.collect.csv_form import read_csv
from tongket.worker.collect.json_form import read_json
from tongket.worker.collect.text_form import reject
from tongket.worker.collect.xlsx_form import OLE_MAGIC, RawForm, read_form

SUFFIXES = (".xlsx", ".csv", ".json")
# Spreadsheets of other formats: no library we trust reads them safely, so they are refused with what to do.
REFUSED_SUFFIXES = (".xls", ".xlsm", ".xlsb", ".ods")


def read_delivery(data: bytes, *, origin: str, max_bytes: int = 5_000_000) -> RawForm:
    """Read a delivered file or HTTP body of any supported format; FormRejected for any bad one."""
    name = origin.lower().split("?", 1)[0]
    if name.endswith(REFUSED_SUFFIXES):
        raise reject(
            "định dạng tệp chưa được hỗ trợ; đề nghị mở tệp bằng Excel, chọn Lưu thành (Save As) định dạng Excel "
            "Workbook (.xlsx) rồi gửi lại",
            f"{name.rsplit('.', 1)[-1]} files are not read; save the form as .xlsx",
        )
    if data.startswith((b"PK\x03\x04", OLE_MAGIC)) or name.endswith(".xlsx"):
        return read_form(data, max_bytes=max_bytes)
    if name.endswith(".csv"):
        return read_csv(data, max_bytes=max_bytes)
    looks_json = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")
    if name.endswith(".json") or name.startswith(("http://", "https://")) or looks_json:
        return read_json(data, max_bytes=max_bytes)
    raise reject(
        "định dạng tệp không được hỗ trợ; hãy gửi biểu mẫu Excel (.xlsx), tệp CSV hoặc JSON",
        f"unsupported delivery format ({origin[-60:]}); send .xlsx, .csv or .json",
    )
