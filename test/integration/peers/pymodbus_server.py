#!/usr/bin/python3
"""An independent Modbus server for integration tests (pymodbus 3.0).

Usage:
  pymodbus_server.py --port 0 [--host 127.0.0.1] [--framer socket|rtu] --spec JSON
  pymodbus_server.py --serial /dev/pts/N --spec JSON     (RTU on a serial line, e.g. one end of a socat pty pair)

The spec lays out the data, encoded here with Python's struct module so the
test compares the driver against an implementation that is not its own:

  {"hr": {"size": 100, "values": [{"at": 0, "type": "float32", "order": "ABCD", "value": 123.456},
                                  {"at": 20, "type": "string", "length": 4, "value": "PUMP-01"},
                                  {"at": 30, "type": "raw", "value": [1, 2, 3]}]},
   "ir": {...}, "co": {"size": 16, "values": [{"at": 3, "value": true}]}, "di": {...}}

Addresses are 0-based wire offsets. Reading past `size` answers exception 2, and so does
reading any address listed in an area's "holes" ([[start, count], ...]); setting a value in a
hole while running adds those addresses.
Prints "LISTENING <port>" once bound (with --serial: "LISTENING 0" once the line is open). Reads JSON lines on stdin to change
values while running: {"area": "hr", "at": 0, "type": "float32", "order": "ABCD", "value": 1.5};
on a serial line, {"mute": true} makes the device ignore requests (a broken bus) until {"mute": false}.
"""
import argparse
import asyncio
import json
import logging
import os
import struct
import sys
import threading
import tty
import types

# pymodbus.server imports pyserial at module level even for TCP servers; a TCP
# peer does not need it, so stand in for it when it is not installed.
try:
    import serial  # noqa: F401
except ImportError:
    _serial = types.ModuleType("serial")
    _serial.serialutil = types.SimpleNamespace(SerialException=OSError)
    sys.modules["serial"] = _serial
try:
    import serial_asyncio  # noqa: F401
except ImportError:
    _serial_asyncio = types.ModuleType("serial_asyncio")

    def _unavailable(*_args, **_kwargs):
        raise OSError("pyserial-asyncio is not installed")

    _serial_asyncio.create_serial_connection = _unavailable
    sys.modules["serial_asyncio"] = _serial_asyncio

from pymodbus.datastore import (  # noqa: E402
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
    ModbusSparseDataBlock,
)
from pymodbus.framer.rtu_framer import ModbusRtuFramer  # noqa: E402
from pymodbus.framer.socket_framer import ModbusSocketFramer  # noqa: E402
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer  # noqa: E402

FORMATS = {
    "int16": ">h",
    "uint16": ">H",
    "int32": ">i",
    "uint32": ">I",
    "int64": ">q",
    "uint64": ">Q",
    "float32": ">f",
    "float64": ">d",
}


def encode(item):
    """Registers for one spec item, in the requested word order."""
    kind = item.get("type", "uint16")
    order = item.get("order", "ABCD")
    value = item["value"]
    if kind == "raw":
        return list(value)
    if kind == "bool":
        bit = item.get("bit")
        return [(1 << bit) if (value and bit is not None) else (1 if value else 0)]
    if kind == "string":
        length = item["length"]
        data = value.encode("latin-1").ljust(length * 2, b"\x00")[: length * 2]
        regs = [(data[i] << 8) | data[i + 1] for i in range(0, len(data), 2)]
        if order in ("BADC", "DCBA"):
            regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
        return regs
    data = struct.pack(FORMATS[kind], value)
    regs = [(data[i] << 8) | data[i + 1] for i in range(0, len(data), 2)]
    if order in ("CDAB", "DCBA"):
        regs.reverse()
    if order in ("BADC", "DCBA"):
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    return regs


def build_block(area_spec, bits):
    size = max(1, area_spec.get("size", 1))
    values = [False if bits else 0] * size
    for item in area_spec.get("values", []):
        at = item["at"]
        if bits:
            values[at] = bool(item["value"])
        else:
            for i, reg in enumerate(encode(item)):
                values[at + i] = reg
    holes = area_spec.get("holes", [])
    if not holes:
        return ModbusSequentialDataBlock(0, values)
    # addresses the device does not have: a read that covers one answers exception 2;
    # writing a value into a hole (a "set" command) adds the address, as a program download would
    missing = {at for start, count in holes for at in range(start, start + count)}
    return ModbusSparseDataBlock({at: v for at, v in enumerate(values) if at not in missing})


MUTED = {"value": False}


def apply_change(slave, change):
    if "mute" in change:
        MUTED["value"] = bool(change["mute"])
        return
    area = change["area"]
    fx = {"co": 1, "di": 2, "hr": 3, "ir": 4}[area]
    if area in ("co", "di"):
        slave.setValues(fx, change["at"], [bool(change["value"])])
    else:
        slave.setValues(fx, change["at"], encode(change))


def read_commands(loop, slave):
    """Runs in a thread: stdin may be a pipe, a file or /dev/null."""
    for line in sys.stdin:
        line = line.strip()
        if line:
            loop.call_soon_threadsafe(apply_command, slave, line)


def apply_command(slave, line):
    try:
        apply_change(slave, json.loads(line))
        print("OK", flush=True)
    except Exception as exc:  # report and keep serving
        print(f"ERROR {exc}", flush=True)


class LineTransport(asyncio.Transport):
    """The write side of a serial line opened with os.open (no pyserial needed on a pty)."""

    def __init__(self, fd):
        super().__init__()
        self.fd = fd

    def write(self, data):
        os.write(self.fd, data)

    def close(self):
        pass


async def serve_serial(context, path):
    """pymodbus's own serial request handler, fed from a raw file descriptor."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    server = ModbusSerialServer(context, framer=ModbusRtuFramer, port=path)
    handler = server.handler(server)
    handler.connection_made(LineTransport(fd))
    loop = asyncio.get_running_loop()

    def readable():
        try:
            data = os.read(fd, 1024)
        except BlockingIOError:
            return
        if data and not MUTED["value"]:
            handler.data_received(data)

    loop.add_reader(fd, readable)
    print("LISTENING 0", flush=True)
    await asyncio.Event().wait()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--framer", choices=["socket", "rtu"], default="socket")
    parser.add_argument("--serial", default=None)
    parser.add_argument("--spec", default="{}")
    args = parser.parse_args()
    spec = json.loads(args.spec)

    slave = ModbusSlaveContext(
        di=build_block(spec.get("di", {}), True),
        co=build_block(spec.get("co", {}), True),
        hr=build_block(spec.get("hr", {}), False),
        ir=build_block(spec.get("ir", {}), False),
        zero_mode=True,
    )
    context = ModbusServerContext(slaves=slave, single=True)
    threading.Thread(target=read_commands, args=(asyncio.get_running_loop(), slave), daemon=True).start()
    if args.serial:
        await serve_serial(context, args.serial)
        return
    framer = ModbusRtuFramer if args.framer == "rtu" else ModbusSocketFramer
    server = ModbusTcpServer(context, framer, None, (args.host, args.port), allow_reuse_address=True)
    serving = asyncio.create_task(server.serve_forever())
    await server.serving
    port = server.server.sockets[0].getsockname()[1]
    print(f"LISTENING {port}", flush=True)
    await serving


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
