//! Running a pod as Airflow's KubernetesPodOperator does: the pod to create ([`spec`]) and
//! its logs followed without a line lost or repeated ([`logs`]), and the run from creation (or
//! re-attachment) to clean-up ([`run`]).

pub mod logs;
pub mod run;
pub mod spec;
