"""Reads Modbus registers with pymodbus (an implementation independent of ours)
and prints JSON: one entry per request, with the raw registers, their float32
(high word first) decoding, or the Modbus exception code.

usage: sim-pymodbus-read.py HOST PORT input|holding ADDR:COUNT [ADDR:COUNT ...]
"""
import json
import struct
import sys
import types

# Debian's python3-pymodbus only recommends its serial dependencies, but
# pymodbus.client imports them eagerly; TCP does not use them.
for name in ("serial", "serial_asyncio"):
    try:
        __import__(name)
    except ImportError:
        stub = types.ModuleType(name)
        stub.create_serial_connection = None
        sys.modules[name] = stub

from pymodbus.client import ModbusTcpClient  # noqa: E402


def main() -> int:
    host, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = ModbusTcpClient(host, port=port, timeout=3)
    if not client.connect():
        print(json.dumps({"error": "connect failed"}))
        return 1
    out = []
    try:
        for spec in sys.argv[4:]:
            address, count = (int(x, 0) for x in spec.split(":"))
            if kind == "input":
                rr = client.read_input_registers(address, count, slave=1)
            else:
                rr = client.read_holding_registers(address, count, slave=1)
            entry = {"address": address, "count": count}
            if rr.isError():
                entry["exception"] = getattr(rr, "exception_code", None)
                entry["text"] = str(rr)
            else:
                regs = list(rr.registers)
                entry["registers"] = regs
                entry["float32"] = [
                    struct.unpack(">f", struct.pack(">HH", regs[i], regs[i + 1]))[0]
                    for i in range(0, len(regs) - 1, 2)
                ]
            out.append(entry)
    finally:
        client.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
