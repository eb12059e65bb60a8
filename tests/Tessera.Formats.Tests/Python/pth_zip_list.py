# Python's zipfile as an independent zip reader: checks every member's CRC, prints "name size compress_type" lines.
# usage: pth_zip_list.py ARCHIVE
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    for i in z.infolist(): print(i.filename, i.file_size, i.compress_type)
