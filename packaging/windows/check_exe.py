"""Check what the spec gives annotary.exe on Windows: a console program, the app's icon (every
image of the .ico) and a version resource with the package's version. Run by wine_build.py in the
Windows Python, where PyInstaller brings pefile:

    python check_exe.py dist/annotary-windows/annotary.exe 0.1.0 resources/icons/annotary.ico
"""

import struct
import sys

import pefile


def main(exe: str, version: str, ico: str) -> int:
    pe = pefile.PE(exe)
    problems = []
    if pe.OPTIONAL_HEADER.Subsystem != pefile.SUBSYSTEM_TYPE["IMAGE_SUBSYSTEM_WINDOWS_CUI"]:
        problems.append("not a console program (the command line would print nothing)")

    strings = {}
    for info in getattr(pe, "FileInfo", None) or []:
        for entry in info:
            for table in getattr(entry, "StringTable", []):
                strings.update({k.decode(): v.decode() for k, v in table.entries.items()})
    for key, want in (("ProductName", "Annotary"), ("ProductVersion", version),
                      ("FileVersion", version), ("OriginalFilename", "annotary.exe")):
        if strings.get(key) != want:
            problems.append(f"version resource {key} is {strings.get(key)!r}, not {want!r}")
    fixed = pe.VS_FIXEDFILEINFO[0] if getattr(pe, "VS_FIXEDFILEINFO", None) else None
    nums = tuple(int(p) for p in version.split(".")[:3]) + (0,)
    if fixed is None or (fixed.FileVersionMS >> 16, fixed.FileVersionMS & 0xFFFF,
                         fixed.FileVersionLS >> 16, fixed.FileVersionLS & 0xFFFF) != nums:
        problems.append(f"fixed file version is not {nums}")

    with open(ico, "rb") as f:
        images = struct.unpack("<HHH", f.read(6))[2]
    resources = pe.DIRECTORY_ENTRY_RESOURCE.entries if hasattr(pe, "DIRECTORY_ENTRY_RESOURCE") else []
    groups = [entry for entry in resources if entry.id == pefile.RESOURCE_TYPE["RT_GROUP_ICON"]]
    counts = []
    for group in groups:
        for name in group.directory.entries:
            for lang in name.directory.entries:
                data = pe.get_data(lang.data.struct.OffsetToData, lang.data.struct.Size)
                counts.append(struct.unpack("<HHH", data[:6])[2])
    if images not in counts:
        problems.append(f"no icon with the {images} images of {ico} (icon groups: {counts})")

    for problem in problems:
        print(f"FAIL  annotary.exe: {problem}")
    if not problems:
        print(f"annotary.exe: console program, icon of {images} images, version {version}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
