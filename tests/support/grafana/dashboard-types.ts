// The types dashboard.schema.json is made from: Grafana's dashboard model
// and the options of the two panel types the guide's dashboard uses, from
// @grafana/schema (the version in package.json: Grafana 13.2).
import * as dashboard from "@grafana/schema/dist/types/raw/dashboard/x/types.gen";
import * as stat from "@grafana/schema/dist/types/raw/composable/stat/panelcfg/x/types.gen";
import * as timeseries from "@grafana/schema/dist/types/raw/composable/timeseries/panelcfg/x/types.gen";

export type DashboardJSON = dashboard.Dashboard;
export type StatOptions = Partial<stat.Options>;
export type TimeseriesOptions = Partial<timeseries.Options>;
export type TimeseriesFieldConfig = Partial<timeseries.FieldConfig>;
