//! Maturity (seed 000 ch.2–3): a short questionnaire places the team at reactive (黎明期),
//! proactive (成長期) or predictive (成熟期); each stage has two goals, each goal its KPIs as the
//! seed lists them, with their current values where Kizuna measures them.
//!
//! Placement: proactive needs at least 3 of the 5 proactive practices; predictive needs that and
//! at least 3 of the 4 predictive ones. Otherwise reactive.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = MaturityStage)]
pub enum Stage {
    Reactive,
    Proactive,
    Predictive,
}

impl Stage {
    /// The wire name, as it serialises.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Reactive => "reactive",
            Stage::Proactive => "proactive",
            Stage::Predictive => "predictive",
        }
    }
}

/// (id, stage it indicates, English, Japanese)
pub const QUESTIONS: &[(&str, Stage, &str, &str)] = &[
    ("segmented_touch_models", Stage::Proactive, "Customers are segmented and each segment is served with its own touch model (high / hybrid / tech).", "顧客をセグメント分けし、セグメントごとにタッチモデル(ハイ/ハイブリッド/テック)を使い分けている。"),
    ("churn_reasons_tracked", Stage::Proactive, "Every churn is recorded with its reason, avoidable or not.", "すべてのチャーンを理由と回避可否つきで記録している。"),
    ("standard_onboarding", Stage::Proactive, "A documented onboarding process is followed for every new customer.", "すべての新規顧客に文書化されたオンボーディング手順を適用している。"),
    ("regular_reviews", Stage::Proactive, "Key accounts get regular reviews (QBRs).", "主要顧客と定期的なレビュー(QBR)を実施している。"),
    ("health_score", Stage::Proactive, "A customer health score is reviewed at least monthly.", "カスタマーヘルススコアを月1回以上見直している。"),
    ("data_triggered_playbooks", Stage::Predictive, "Playbooks start automatically from data (usage drops, renewals, health changes).", "利用低下・更新・ヘルス変化などのデータを起点にプレイブックが自動で動く。"),
    ("tech_touch_programs", Stage::Predictive, "Automated one-to-many programmes (emails, in-app) run for tech-touch customers.", "テックタッチ顧客向けに自動の1対多施策(メール・アプリ内)を運用している。"),
    ("churn_forecast", Stage::Predictive, "Churn and renewals are forecast from data and the forecast is checked against outcomes.", "チャーンと更新をデータで予測し、結果と照合している。"),
    ("revenue_targets", Stage::Predictive, "CS carries revenue targets (NRR, expansion) and works upsell opportunities with sales.", "CSがNRRや拡大売上の目標を持ち、営業とアップセル機会を進めている。"),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaturityInputs {
    /// Question id → yes / no. Unanswered questions count as no.
    pub answers: BTreeMap<String, bool>,
}

/// KPI values Kizuna can measure today.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LiveKpis {
    pub nrr: Option<f64>,
    pub logo_churn_rate: Option<f64>,
    pub revenue_churn_rate: Option<f64>,
    pub arr_by_segment: Vec<(String, f64)>,
    pub accounts_per_csm: Option<f64>,
    pub arr_per_csm: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Kpi {
    pub kpi: &'static str,
    /// The current value, or null when Kizuna does not measure it yet.
    pub value: Option<KpiValue>,
}

/// A KPI's current value: a rate, ARR per segment, or the team's load. In the API document it
/// is `anyOf` (the team's object would also read as a map of numbers).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum KpiValue {
    Rate(f64),
    BySegment(BTreeMap<String, f64>),
    Team { accounts_per_csm: f64, arr_per_csm: Option<f64> },
}

impl utoipa::PartialSchema for KpiValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, AnyOfBuilder, ObjectBuilder, Type};
        let number = || ObjectBuilder::new().schema_type(Type::Number);
        let any_of = AnyOfBuilder::new()
            .item(number().description(Some("a rate (1.05 = 105%)")))
            .item(
                ObjectBuilder::new()
                    .description(Some("ARR by segment"))
                    .additional_properties(Some(AdditionalProperties::RefOr(number().build().into()))),
            )
            .item(
                ObjectBuilder::new()
                    .description(Some("the team's load"))
                    .property("accounts_per_csm", number())
                    .property("arr_per_csm", ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::Number, Type::Null])))
                    .required("accounts_per_csm"),
            )
            .build();
        utoipa::openapi::schema::Schema::AnyOf(any_of).into()
    }
}

impl utoipa::ToSchema for KpiValue {}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Goal {
    pub goal: &'static str,
    pub stage: Stage,
    pub kpis: Vec<Kpi>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Assessment {
    pub stage: Stage,
    pub proactive_yes: usize,
    pub predictive_yes: usize,
    /// Practices answered "no", in questionnaire order: what to work on next.
    pub missing_practices: Vec<&'static str>,
    /// The current stage's goals first, then the others (seed 000: every goal applies at every stage).
    pub goals: Vec<Goal>,
}

/// Goals per stage with their KPIs (seed 000 ch.3, "効果を評価する指標").
const GOALS: &[(&str, Stage, &[&str])] = &[
    ("reduce_churn", Stage::Reactive, &["nrr", "logo_churn_rate", "revenue_churn_rate", "customer_health_index"]),
    ("time_to_value", Stage::Reactive, &["csat", "nps", "customer_health_index", "logo_churn_rate", "revenue_churn_rate"]),
    ("standardise_processes", Stage::Proactive, &["team_performance", "logo_churn_rate", "revenue_churn_rate"]),
    ("scale_cs", Stage::Proactive, &["nrr", "csat", "team_performance"]),
    ("grow_revenue", Stage::Predictive, &["arr_by_segment", "team_performance"]),
    ("customer_trust", Stage::Predictive, &["csat", "nps", "customer_health_index"]),
];

pub fn assess(inputs: &MaturityInputs, live: &LiveKpis) -> Assessment {
    let yes = |id: &str| inputs.answers.get(id).copied().unwrap_or(false);
    let count = |stage: Stage| QUESTIONS.iter().filter(|q| q.1 == stage && yes(q.0)).count();
    let (proactive, predictive) = (count(Stage::Proactive), count(Stage::Predictive));
    let stage = if proactive >= 3 && predictive >= 3 {
        Stage::Predictive
    } else if proactive >= 3 {
        Stage::Proactive
    } else {
        Stage::Reactive
    };
    let value = |kpi: &str| -> Option<KpiValue> {
        match kpi {
            "nrr" => live.nrr.map(KpiValue::Rate),
            "logo_churn_rate" => live.logo_churn_rate.map(KpiValue::Rate),
            "revenue_churn_rate" => live.revenue_churn_rate.map(KpiValue::Rate),
            "arr_by_segment" => (!live.arr_by_segment.is_empty()).then(|| KpiValue::BySegment(live.arr_by_segment.iter().cloned().collect())),
            "team_performance" => live.accounts_per_csm.map(|a| KpiValue::Team { accounts_per_csm: a, arr_per_csm: live.arr_per_csm }),
            _ => None,
        }
    };
    let mut goals: Vec<Goal> = GOALS
        .iter()
        .map(|(goal, s, kpis)| Goal { goal, stage: *s, kpis: kpis.iter().map(|k| Kpi { kpi: k, value: value(k) }).collect() })
        .collect();
    goals.sort_by_key(|g| g.stage != stage);
    Assessment {
        stage,
        proactive_yes: proactive,
        predictive_yes: predictive,
        missing_practices: QUESTIONS.iter().filter(|q| !yes(q.0)).map(|q| q.0).collect(),
        goals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(ids: &[&str]) -> MaturityInputs {
        MaturityInputs { answers: ids.iter().map(|i| (i.to_string(), true)).collect() }
    }

    #[test]
    fn placement_by_practices() {
        let live = LiveKpis { nrr: Some(1.05), ..Default::default() };
        assert_eq!(assess(&answers(&["health_score", "regular_reviews"]), &live).stage, Stage::Reactive);
        let a = assess(&answers(&["health_score", "regular_reviews", "standard_onboarding", "churn_forecast"]), &live);
        assert_eq!((a.stage, a.proactive_yes, a.predictive_yes), (Stage::Proactive, 3, 1));
        assert_eq!(a.goals[0].goal, "standardise_processes");
        let all: Vec<&str> = QUESTIONS.iter().map(|q| q.0).collect();
        let p = assess(&answers(&all), &live);
        assert_eq!(p.stage, Stage::Predictive);
        assert!(p.missing_practices.is_empty());
        let churn = p.goals.iter().find(|g| g.goal == "reduce_churn").unwrap();
        assert_eq!(churn.kpis[0].value, Some(KpiValue::Rate(1.05)));
        assert_eq!(churn.kpis[3].value, None, "no health index yet");
    }
}
