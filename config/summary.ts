/** A one-screen summary of a valid plant model, for `greenline check-config`. */
import type { Device, PlantConfig } from './schema.js';

export function endpointOf(device: Device): string {
  switch (device.protocol) {
    case 'modbus-tcp':
      return `modbus-tcp://${device.host}:${device.port} unit ${device.unitId}`;
    case 'modbus-rtu':
      return device.transport === 'tcp'
        ? `modbus-rtu-over-tcp://${device.host}:${device.port} unit ${device.unitId}`
        : `modbus-rtu:${device.path} ${device.baudRate} ${device.dataBits}${device.parity[0]!.toUpperCase()}${device.stopBits} unit ${device.unitId}`;
    case 'opcua':
      return `${device.endpointUrl} (${device.securityMode}/${device.securityPolicy})`;
    case 'mqtt':
      return `${device.url.replace(/\/\/[^@/]*@/, '//')} (${device.format})`;
  }
}

export function summarizeConfig(config: PlantConfig, file: string): string {
  const machines = config.lines.flatMap((l) => l.machines);
  const tagCount = config.devices.reduce((n, d) => n + d.tags.length, 0);
  const out: string[] = [];
  out.push(`✓ ${file} is valid`);
  out.push('');
  out.push(`site      ${config.site.name} (${config.site.id}), ${config.site.timezone}`);
  out.push(
    `plant     ${config.areas.length} area(s), ${config.lines.length} line(s), ${machines.length} machine(s), ${config.devices.length} device(s), ${tagCount} tag(s)`,
  );
  out.push('');
  out.push('lines');
  for (const line of config.lines) {
    const names = line.machines.map((m) => (m.id === line.outputMachine ? `${m.id}*` : m.id)).join(' → ');
    out.push(`  ${pad(line.id, 12)} ${names}   (${line.calendar}${line.energy ? ', line meter' : ''})`);
  }
  out.push('  * output machine');
  out.push('');
  out.push('devices');
  for (const d of config.devices) {
    out.push(
      `  ${pad(d.id, 14)} ${pad(String(d.tags.length), 3)} tags  ${endpointOf(d)}${d.enabled ? '' : '  [disabled]'}`,
    );
  }
  out.push('');
  const shifts = config.calendars.map(
    (c) => `${c.id}: ${c.shifts.map((s) => `${s.id} ${s.start}–${s.end}`).join(', ')}`,
  );
  out.push(`calendars ${shifts.join('; ')}`);
  out.push(
    `carbon    ${config.carbonTables.map((t) => `${t.id} (${t.factors.length} factor${t.factors.length === 1 ? '' : 's'})`).join(', ') || 'none: carbon per unit will be unavailable'}`,
  );
  out.push(`alarms    ${config.alarms.length} rule(s)`);
  out.push(
    `store     ${config.store.path} (raw ${config.store.rawRetentionDays} d, rollups ${config.store.rollupRetentionDays} d)`,
  );
  const sinks = [
    config.sinks.influxdb ? `InfluxDB ${config.sinks.influxdb.url}/${config.sinks.influxdb.database}` : undefined,
    config.sinks.mqtt ? `MQTT ${config.sinks.mqtt.url}` : undefined,
  ].filter(Boolean);
  out.push(`sinks     ${sinks.join(', ') || 'none'}`);
  out.push(
    `server    ${config.server.tls ? 'https' : 'http'}://${config.server.host}:${config.server.port}${config.server.demoAccounts ? '  (demo accounts ON: not for a real plant)' : ''}`,
  );
  return out.join('\n');
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
