// The types generated dashboards are checked against: Grafana's published dashboard schema
// (@grafana/schema, the classic JSON model that import and file provisioning read), with the
// panel options of each panel type, as JSON can spell them.
import type { AnnotationQuery, Dashboard, Panel } from '@grafana/schema';
import type {
  Options as TimeSeriesOptions,
  FieldConfig as TimeSeriesFieldConfig,
} from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import type { Options as StatOptions } from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type { Options as LogsOptions } from '@grafana/schema/dist/esm/raw/composable/logs/panelcfg/x/LogsPanelCfg_types.gen';
import type {
  Options as StateTimelineOptions,
  FieldConfig as StateTimelineFieldConfig,
} from '@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen';

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

/**
 * An annotation query of the Prometheus data source. The published schema's `AnnotationQuery`
 * types only the fields every data source shares; the Prometheus data source reads its query
 * from `expr` and `step` beside them (its annotation support moves them into its query on load)
 * and turns each series into an event with `titleFormat`, `textFormat` and `tagKeys`
 * (public/app/plugins/datasource/prometheus/annotations.ts in Grafana).
 */
export interface PrometheusAnnotationQuery extends Omit<AnnotationQuery, 'target' | 'builtIn' | 'type'> {
  datasource: { type: 'prometheus'; uid: string };
  expr: string;
  step: string;
  titleFormat: string;
  textFormat: string;
  tagKeys: string;
  useValueForTime: boolean;
}

/** A dashboard file as Grafana's export writes it: the dashboard plus its import metadata. */
export type ExportedDashboard = Json<
  Omit<Dashboard, 'annotations'> & {
    // Grafana's built-in annotation, then the firing alerts of the spec.
    annotations: { list: [AnnotationQuery, PrometheusAnnotationQuery] };
    __inputs: Input[];
    __requires: Require[];
  }
>;

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
export type StateTimelinePanel = Typed<'state-timeline', StateTimelineOptions, StateTimelineFieldConfig>;
