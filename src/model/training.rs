//! The training jobs fatelab runs (`assets/jobs.yaml`: each algorithm's component and parameters
//! for either FATE Flow API) and the tables they train on (`assets/data/`, FATE's breast
//! tables), embedded at build time.

use std::sync::OnceLock;

use anyhow::Result;

use crate::clients::fateflow::jobs::{Jobs, TableSpec};
use crate::model::dataset::{Dataset, parse};

pub fn jobs() -> &'static Jobs {
    static JOBS: OnceLock<Jobs> = OnceLock::new();
    JOBS.get_or_init(|| {
        serde_saphyr::from_str(include_str!("../../assets/jobs.yaml"))
            .unwrap_or_else(|e| panic!("assets/jobs.yaml does not parse: {e}"))
    })
}

/// A table's CSV, as shipped with fatelab.
pub fn table_bytes(table: &TableSpec) -> &'static [u8] {
    match table.file.as_str() {
        "breast_hetero_guest.csv" => include_bytes!("../../assets/data/breast_hetero_guest.csv"),
        "breast_hetero_host.csv" => include_bytes!("../../assets/data/breast_hetero_host.csv"),
        other => panic!("assets/jobs.yaml names {other}, which is not embedded"),
    }
}

/// The breast tables as a dataset, under the names jobs.yaml gives them.
pub fn breast() -> Result<Dataset> {
    let data = &jobs().data;
    let table = |spec: &TableSpec, forbidden: Option<&str>| {
        let mut t = parse(
            &spec.file,
            table_bytes(spec),
            &spec.id,
            spec.label.as_deref(),
            forbidden,
        )?;
        t.spec = spec.clone();
        anyhow::Ok(t)
    };
    let guest = table(&data.guest, None)?;
    let host = table(&data.host, data.guest.label.as_deref())?;
    Dataset::pair(guest, host, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::fateflow::jobs::FateVersion;
    use crate::clients::fateflow::{v1, v2};
    use serde_json::Value;

    #[test]
    fn every_job_is_there_for_both_apis_and_the_tables_have_their_rows() {
        let j = jobs();
        for kind in ["lr", "sbt"] {
            assert!(
                j.v1.jobs.contains_key(kind) && j.v2.jobs.contains_key(kind),
                "{kind}"
            );
        }
        for t in [&j.data.guest, &j.data.host] {
            let text = std::str::from_utf8(table_bytes(t)).unwrap();
            assert_eq!(text.lines().count() as u64, j.data.rows + 1, "{}", t.file);
            let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
            assert_eq!(header[0], t.id);
            assert_eq!(t.label.as_deref().is_some(), header.contains(&"y"));
        }
    }

    #[test]
    fn the_training_job_is_fate_16s_example_for_these_parties() {
        let v = serde_json::to_value(v1::training(
            &jobs().v1.jobs["lr"],
            &jobs().data,
            9999,
            10000,
        ))
        .unwrap();
        let dsl = &v["job_dsl"]["components"];
        assert_eq!(dsl["hetero_lr_0"]["module"], "HeteroLR");
        assert_eq!(
            dsl["hetero_lr_0"]["input"]["data"]["train_data"][0],
            "intersection_0.data"
        );
        assert_eq!(
            dsl["evaluation_0"]["input"]["data"]["data"][0],
            "hetero_lr_0.data"
        );
        let conf = &v["job_runtime_conf"];
        assert_eq!(conf["role"]["arbiter"][0], 10000);
        assert_eq!(conf["job_parameters"]["common"]["work_mode"], 1);
        assert_eq!(
            conf["component_parameters"]["role"]["guest"]["0"]["reader_0"]["table"]["name"],
            "breast_hetero_guest"
        );
        assert_eq!(
            conf["component_parameters"]["role"]["host"]["0"]["dataio_0"]["with_label"],
            false
        );
        assert_eq!(
            conf["component_parameters"]["common"]["hetero_lr_0"]["optimizer"],
            "rmsprop"
        );
        let sbt = serde_json::to_value(v1::training(
            &jobs().v1.jobs["sbt"],
            &jobs().data,
            9999,
            10000,
        ))
        .unwrap();
        assert!(sbt["job_runtime_conf"]["role"].get("arbiter").is_none());
    }

    #[test]
    fn the_upload_conf_is_a_query_string() {
        let t = &jobs().data.guest;
        assert_eq!(
            v1::UploadConf::of(t, "experiment", 4).query(),
            "table_name=breast_hetero_guest&namespace=experiment&head=1&partition=4&work_mode=1&backend=0&drop=1"
        );
    }

    /// The reference body, with the DAG fatelab builds for the same job beside it.
    #[test]
    fn the_lr_dag_is_the_one_fate_client_sent() {
        let reference: Value = serde_json::from_str(include_str!(
            "../../../shared/reference/fateflow-v2-lr-submit.json"
        ))
        .unwrap();
        let jobs = jobs();
        let ours = serde_json::to_value(v2::training(
            &jobs.v2,
            "lr",
            &jobs.data,
            FateVersion(2, 2),
            9999,
            10000,
        ))
        .unwrap();
        let (r, o) = (&reference["dag_schema"]["dag"], &ours["dag_schema"]["dag"]);
        assert_eq!(o["parties"], r["parties"]);
        assert_eq!(o["party_tasks"], r["party_tasks"]);
        assert_eq!(o["stage"], r["stage"]);
        for task in ["reader_0", "psi_0", "lr_0", "evaluation_0"] {
            let (rt, ot) = (&r["tasks"][task], &o["tasks"][task]);
            for key in [
                "component_ref",
                "dependent_tasks",
                "inputs",
                "parties",
                "stage",
            ] {
                assert_eq!(ot.get(key), rt.get(key), "{task}.{key}");
            }
        }
        // Every parameter fatelab sets is the one the client sent (the client adds its defaults).
        let params = o["tasks"]["lr_0"]["parameters"].as_object().unwrap();
        for (k, v) in params {
            assert_eq!(&r["tasks"]["lr_0"]["parameters"][k], v, "lr_0.{k}");
        }
        assert_eq!(
            o["tasks"]["evaluation_0"]["parameters"]["default_eval_setting"],
            "binary"
        );
    }

    #[test]
    fn secureboost_has_no_arbiter_and_the_names_of_the_fate_in_use() {
        let dag = |fate| {
            let v = serde_json::to_value(v2::training(
                &jobs().v2,
                "sbt",
                &jobs().data,
                fate,
                9999,
                10000,
            ))
            .unwrap();
            v["dag_schema"]["dag"].clone()
        };
        // FATE@v2.0.0 and v2.2.0 python/fate/components/components/{hetero_secureboost,evaluation}.py
        for (fate, input, output) in [
            (FateVersion(2, 0), "input_data", "train_data_output"),
            (FateVersion(2, 2), "input_datas", "train_output_data"),
        ] {
            let dag = dag(fate);
            assert_eq!(dag["parties"].as_array().unwrap().len(), 2);
            assert_eq!(dag["tasks"]["sbt_0"]["component_ref"], "hetero_secureboost");
            let read =
                &dag["tasks"]["evaluation_0"]["inputs"]["data"][input]["task_output_artifact"][0];
            assert_eq!(read["output_artifact_key"], output, "FATE {fate}: {dag}");
            assert_eq!(read["producer_task"], "sbt_0");
        }
    }

    /// The centralized LR on the breast tables, against a number computed without fatelab:
    /// scikit-learn 1.9.1's `LogisticRegression()` (lbfgs, C=1) fitted on all 569 joined rows
    /// (pandas merge on `id`) and scored on them with `roc_auc_score`: 0.99744 (run 2026-12-04;
    /// C=1/(alpha·n), the job's L2, gives 0.99771). FATE's federated LR: 0.9924.
    #[test]
    fn the_centralized_lr_on_the_breast_tables_scores_as_scikit_learn_does() {
        use crate::model::baseline::{LrParams, centralized_lr};
        let d = breast().unwrap();
        assert_eq!(d.shared, 569);
        let j = d.joined();
        assert_eq!((j.x.len(), j.x[0].len()), (569, 30));
        for params in [
            &jobs().v2.jobs["lr"].parameters,
            &jobs().v1.jobs["lr"].parameters,
        ] {
            let c = centralized_lr(&j.x, &j.y, &LrParams::of_job(params));
            let auc = c.roc.auc();
            assert!((auc - 0.99744).abs() <= 0.01, "centralized AUC {auc}");
        }
    }
}
