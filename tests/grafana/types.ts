// The types generated dashboards are checked against: Grafana's published dashboard schema
// (@grafana/schema, the classic JSON model that import and file provisioning read), with the
// panel options of each panel type, as JSON can spell them.
import type { Dashboard, Panel } from '@grafana/schema';
import type {
  Options as TimeSeriesOptions,
  FieldConfig as TimeSeriesFieldConfig,
} from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import type { Options as StatOptions } from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type { Options as LogsOptions } from '@grafana/schema/dist/esm/raw/composable/logs/panelcfg/x/LogsPanelCfg_types.gen';

/** A type as JSON can hold it: string enums become the union of their values. */
export type Json<T> = T extends string
  ? `${T}`
  : T extends (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

/** An import input (`__inputs`), as Grafana's export writes it. */
export interface Input {
  name: string;
  label: string;
  description: string;
  type: 'datasource';
  pluginId: string;
  pluginName: string;
}

/** A requirement (`__requires`), as Grafana's export writes it. */
export interface Require {
  type: 'grafana' | 'datasource' | 'panel';
  id: string;
  name: string;
  version: string;
}

/** A dashboard file as Grafana's export writes it: the dashboard plus its import metadata. */
export type ExportedDashboard = Json<Dashboard & { __inputs: Input[]; __requires: Require[] }>;

type Typed<Kind extends string, O, F> = Json<
  Panel & {
    type: Kind;
    options: O;
    fieldConfig: Panel['fieldConfig'] & { defaults: { custom?: F } };
  }
>;

export type TimeSeriesPanel = Typed<'timeseries', TimeSeriesOptions, TimeSeriesFieldConfig>;
export type StatPanel = Typed<'stat', StatOptions, Record<string, never>>;
export type LogsPanel = Typed<'logs', LogsOptions, Record<string, never>>;
