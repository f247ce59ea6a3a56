//! Rules: conditions and actions, in order; a structured editor for the common cases, raw JSON for
//! the rest (read by the engine's own parser, with errors that name the path), and a test box that
//! shows which rules fire for an incident — run on a throwaway engine, so nothing is saved or paged.

use leptos::prelude::*;

use crate::ui::command::Alert;

use crate::route::Route;
use serde_json::{json, Value};

use super::command::use_command;
use super::editor::{use_editor, Draft, EditorFooter};
use super::policies::fields::{problems_of, target_choices, target_from_key, target_name, uid, Choice, ChoiceField, Labelled, Problems};
use super::row_actions::{ConfigList, RowActions};
use super::state::AppState;
use crate::engine::format::parse_rules;
use crate::engine::id::RuleId;
use crate::engine::rules::Rule;
use crate::runtime::command::{Command, ConfigKind};
use crate::runtime::view::{try_rules, RuleTest, TestIncident};

const FIELDS: [(&str, &str); 16] = [
    ("title", "Title"),
    ("summary", "Summary"),
    ("text", "Title or summary"),
    ("severity", "Severity"),
    ("priority", "Priority"),
    ("type", "Type"),
    ("service", "Service"),
    ("source", "Source"),
    ("environment", "Environment"),
    ("region", "Region"),
    ("customer_impact", "Customer impact (true/false)"),
    ("sla_tier", "SLA tier"),
    ("reporter", "Reporter"),
    ("dedup_key", "Dedup key"),
    ("status", "Status"),
    ("labels", "Label…"),
];

const TESTS: [(&str, &str); 5] = [
    ("equals", "equals"),
    ("contains", "contains"),
    ("one_of", "is one of (comma-separated)"),
    ("matches", "matches (* and ?)"),
    ("at_least", "is at least (severity)"),
];

const ACTIONS: [(&str, &str); 7] = [
    ("set_priority", "Set priority"),
    ("set_severity", "Set severity"),
    ("route_to", "Route to policy"),
    ("start_at_level", "Start at level"),
    ("add_targets", "Also page"),
    ("suppress", "Suppress (page nobody)"),
    ("escalate_faster", "Escalate faster (timeouts ×)"),
];

const SEVERITIES: [&str; 4] = ["sev1", "sev2", "sev3", "sev4"];

fn options(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(v, t)| (v.to_string(), t.to_string())).collect()
}

/// One field test as typed.
#[derive(Clone, Copy)]
struct ConditionForm {
    uid: u64,
    field: RwSignal<String>,
    label: RwSignal<String>,
    test: RwSignal<String>,
    value: RwSignal<String>,
}

impl ConditionForm {
    fn new(field: &str, test: &str, value: &str) -> ConditionForm {
        ConditionForm {
            uid: uid(),
            field: RwSignal::new(field.into()),
            label: RwSignal::new(String::new()),
            test: RwSignal::new(test.into()),
            value: RwSignal::new(value.into()),
        }
    }

    /// A condition the form can show: `{"field": F, <test>: V}`.
    fn of(v: &Value) -> Option<ConditionForm> {
        let o = v.as_object()?;
        let field = o.get("field")?.as_str()?;
        let (test, value) = o.iter().find(|(k, _)| *k != "field")?;
        let f = ConditionForm::new(field, test, "");
        if let Some(label) = field.strip_prefix("labels.") {
            f.field.set("labels".into());
            f.label.set(label.into());
        }
        match value {
            Value::String(s) => f.value.set(s.clone()),
            Value::Array(items) => {
                let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                let k = items.len();
                if field == "severity" && k > 0 && items == SEVERITIES[..k] {
                    f.test.set("at_least".into());
                    f.value.set(SEVERITIES[k - 1].into());
                } else {
                    f.value.set(items.join(", "));
                }
            }
            _ => return None,
        }
        Some(f)
    }

    fn json(self) -> Value {
        let field = match self.field.get().as_str() {
            "labels" => format!("labels.{}", self.label.get().trim()),
            f => f.to_string(),
        };
        let value = self.value.get();
        match self.test.get().as_str() {
            "at_least" => {
                let k = SEVERITIES.iter().position(|s| *s == value.trim().to_lowercase()).map(|i| i + 1).unwrap_or(0);
                json!({ "field": field, "one_of": SEVERITIES[..k] })
            }
            "one_of" => json!({ "field": field, "one_of": value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>() }),
            test => {
                let mut o = serde_json::Map::new();
                o.insert("field".into(), json!(field));
                o.insert(test.to_string(), json!(value.trim()));
                Value::Object(o)
            }
        }
    }
}

/// One action as typed.
#[derive(Clone, Copy)]
struct ActionForm {
    uid: u64,
    kind: RwSignal<String>,
    value: RwSignal<String>,
}

impl ActionForm {
    fn new(kind: &str, value: &str) -> ActionForm {
        ActionForm { uid: uid(), kind: RwSignal::new(kind.into()), value: RwSignal::new(value.into()) }
    }

    fn of(v: &Value) -> Option<Vec<ActionForm>> {
        let (kind, value) = v.as_object()?.iter().next()?;
        Some(match value {
            Value::String(s) => vec![ActionForm::new(kind, s)],
            Value::Number(n) => vec![ActionForm::new(kind, &n.to_string())],
            Value::Array(targets) if kind == "add_targets" => targets
                .iter()
                .map(|t| crate::json::from_value::<crate::engine::policy::Target>(t.clone()).ok().map(|t| ActionForm::new(kind, &t.to_string())))
                .collect::<Option<Vec<_>>>()?,
            _ => return None,
        })
    }

    fn json(self) -> Value {
        let value = self.value.get();
        let v = value.trim();
        let number = || v.parse::<f64>().map(|n| if n.fract() == 0.0 && n >= 0.0 { json!(n as u64) } else { json!(n) }).unwrap_or(json!(v));
        let inner = match self.kind.get().as_str() {
            "start_at_level" | "escalate_faster" => number(),
            "add_targets" => match target_from_key(v) {
                Some(t) => json!([t]),
                None => json!(v),
            },
            _ => json!(v),
        };
        let mut o = serde_json::Map::new();
        o.insert(self.kind.get(), inner);
        Value::Object(o)
    }
}

#[derive(Clone, Copy, Default)]
struct RuleForm {
    id: RwSignal<String>,
    name: RwSignal<String>,
    /// `all` or `any`.
    mode: RwSignal<String>,
    conditions: RwSignal<Vec<ConditionForm>>,
    actions: RwSignal<Vec<ActionForm>>,
    stop: RwSignal<bool>,
    /// Editing the rule as JSON instead.
    raw: RwSignal<bool>,
    json: RwSignal<String>,
}

impl RuleForm {
    fn new() -> RuleForm {
        RuleForm {
            mode: RwSignal::new("all".into()),
            conditions: RwSignal::new(vec![ConditionForm::new("title", "contains", "")]),
            actions: RwSignal::new(vec![ActionForm::new("set_priority", "urgent")]),
            ..Default::default()
        }
    }

    fn clear(self) {
        let fresh = RuleForm::new();
        self.id.set(String::new());
        self.name.set(String::new());
        self.mode.set("all".into());
        self.conditions.set(fresh.conditions.get_untracked());
        self.actions.set(fresh.actions.get_untracked());
        self.stop.set(false);
        self.raw.set(false);
        self.json.set(String::new());
    }

    fn show_structured(self, rule: &Rule) -> bool {
        let when = rule.when.as_ref().map(|c| serde_json::to_value(c).unwrap_or_default());
        let (mode, conditions) = match &when {
            None => ("all", Some(Vec::new())),
            Some(v) if v.get("all").is_some() => ("all", v["all"].as_array().and_then(|cs| cs.iter().map(ConditionForm::of).collect())),
            Some(v) if v.get("any").is_some() => ("any", v["any"].as_array().and_then(|cs| cs.iter().map(ConditionForm::of).collect())),
            Some(v) => ("all", ConditionForm::of(v).map(|c| vec![c])),
        };
        let actions: Option<Vec<ActionForm>> = rule
            .then
            .iter()
            .map(|a| ActionForm::of(&serde_json::to_value(a).unwrap_or_default()))
            .collect::<Option<Vec<_>>>()
            .map(|v| v.into_iter().flatten().collect());
        match (conditions, actions) {
            (Some(c), Some(a)) => {
                self.mode.set(mode.into());
                self.conditions.set(c);
                self.actions.set(a);
                true
            }
            _ => false,
        }
    }

    fn structured_json(self) -> Value {
        let conditions: Vec<Value> = self.conditions.get().into_iter().map(ConditionForm::json).collect();
        let mut v = json!({
            "id": self.id.get(),
            "then": self.actions.get().into_iter().map(ActionForm::json).collect::<Vec<_>>(),
        });
        if !self.name.get().trim().is_empty() {
            v["name"] = json!(self.name.get().trim());
        }
        match conditions.len() {
            0 => {}
            1 => v["when"] = conditions.into_iter().next().expect("one"),
            _ => {
                let mut o = serde_json::Map::new();
                o.insert(self.mode.get(), json!(conditions));
                v["when"] = Value::Object(o);
            }
        }
        if self.stop.get() {
            v["stop"] = json!(true);
        }
        v
    }
}

impl Draft for RuleForm {
    type Record = Rule;

    /// Shows `rule` in the form; in the JSON editor when the form cannot show it.
    fn fill(self, rule: &Rule) {
        self.id.set(rule.id.to_string());
        self.name.set(rule.name.clone());
        self.stop.set(rule.stop);
        if !self.show_structured(rule) {
            self.raw.set(true);
        }
        self.json.set(pretty(rule));
    }

    /// The draft read by the engine's parser.
    fn record(self) -> Result<Rule, Problems> {
        let mut v = if self.raw.get() {
            serde_json::from_str::<Value>(&self.json.get()).map_err(|e| vec![(String::new(), format!("not JSON: {e}"))])?
        } else {
            self.structured_json()
        };
        if !v.is_object() {
            return Err(vec![(String::new(), "a rule is a JSON object: {\"when\": …, \"then\": […]}".into())]);
        }
        let id = self.id.get();
        let new = id.trim().is_empty();
        v["id"] = json!(if new { "new-rule".to_string() } else { id });
        let mut rule = parse_rules(&Value::Array(vec![v]).to_string()).map(|mut r| r.remove(0)).map_err(problems_of)?;
        if new {
            rule.id = RuleId::default();
        }
        Ok(rule)
    }
}

fn pretty(rule: &Rule) -> String {
    let mut v = serde_json::to_value(rule).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// A rule in one line: “title contains security → start_at_level 2, set_priority urgent”.
fn summary(rule: &Rule) -> String {
    let when = rule.when.as_ref().map(|c| serde_json::to_string(c).unwrap_or_default()).unwrap_or_else(|| "every incident".into());
    let then: Vec<String> = rule.then.iter().map(|a| serde_json::to_string(a).unwrap_or_default()).collect();
    format!("when {when} → {}{}", then.join(", "), if rule.stop { " (then stop)" } else { "" })
}

#[component]
pub fn RulesScreen() -> impl IntoView {
    let form = RuleForm::new();
    let editor = use_editor(form, "Not saved: fix what is marked.", move |editor, done| {
        form.clear();
        editor.tried.set(false);
        editor.status.set(done.message.clone());
    });
    let draft = editor.checked;
    // The rule in the form takes part in the test box once someone is working on it.
    let editing = Signal::derive(move || {
        !form.id.get().is_empty()
            || !form.name.get().trim().is_empty()
            || form.raw.get()
            || form.conditions.with(|cs| cs.iter().any(|c| !c.value.get().trim().is_empty()))
    });
    let problems = editor.problems(move || form.raw.get());
    let on_edit = Callback::new(move |rule: Rule| {
        form.fill(&rule);
        editor.reset();
    });
    let to_json = move |_| {
        form.json.set(match form.record() {
            Ok(r) => pretty(&r),
            Err(_) => serde_json::to_string_pretty(&form.structured_json()).unwrap_or_default(),
        });
        form.raw.set(true);
    };
    let form_error = RwSignal::new(None::<String>);
    let to_form = move |_| match draft.get_untracked() {
        Ok(rule) if form.show_structured(&rule) => {
            form.name.set(rule.name.clone());
            form.stop.set(rule.stop);
            form.raw.set(false);
            form_error.set(None);
        }
        Ok(_) => form_error.set(Some("This rule uses nesting (any inside all, not, recurring…) the form cannot show; keep editing it as JSON.".into())),
        Err(_) => form_error.set(Some("Fix the JSON first.".into())),
    };

    view! {
        <section class="screen config">
            <p><a href=Route::Policies.href() class="back-link">"← Policies"</a></p>
            <h1>"Rules"</h1>
            <p class="lede">"Rules run in order when an incident opens (and on later changes); each acts once per incident. They set priority or severity, route to a policy, start at a higher level, page extra people, or suppress noise."</p>
            <RuleList on_edit=on_edit/>

            <form class="card form-stack" on:submit=editor.on_submit() novalidate aria-labelledby="rule-form-title">
                <h2 id="rule-form-title">{move || if form.id.get().is_empty() { "Add a rule" } else { "Edit rule" }}</h2>
                <Labelled label="Rule name" id="rule-name">
                    <input id="rule-name" type="text" autocomplete="off" placeholder="Security goes straight to level 2" bind:value=form.name/>
                </Labelled>
                <Show
                    when=move || form.raw.get()
                    fallback=move || view! { <RuleFields form=form/> }
                >
                    <Labelled label="Rule as JSON" id="rule-json" hint="The rule format of examples/rules.json (without the id): {\"when\": …, \"then\": […], \"stop\": false}.">
                        <textarea id="rule-json" class="code" rows="10" spellcheck="false" bind:value=form.json></textarea>
                    </Labelled>
                </Show>
                <div class="actions">
                    <Show when=move || form.raw.get() fallback=move || view! { <button type="button" class="small" on:click=to_json>"Edit as JSON"</button> }>
                        <button type="button" class="small" on:click=to_form>"Use the form"</button>
                    </Show>
                </div>
                <Alert message=form_error/>
                <EditorFooter problems=problems.into() status=editor.status save=editor.save label="Save rule"
                    cancel=(Signal::derive(move || !form.id.get().is_empty()), Callback::new(move |_| { form.clear(); editor.refusal.set(Problems::new()); }))/>
            </form>

            <RuleTestBox draft=draft editing=editing/>
        </section>
    }
}

/// The rule as a form: its conditions (When), its actions (Then), and Stop.
#[component]
fn RuleFields(form: RuleForm) -> impl IntoView {
    let policies =
        move || {
            let state = expect_context::<AppState>();
            let mut v = vec![(String::new(), "Choose a policy…".to_string())];
            v.extend(state.world.with(|w| {
                w.policies.iter().map(|p| (p.id.to_string(), if p.name.is_empty() { p.id.to_string() } else { p.name.clone() })).collect::<Vec<_>>()
            }));
            v
        };

    view! {
                        <fieldset class="group">
                            <legend>"When"</legend>
                            <ChoiceField id="rule-mode" label="Conditions" options=vec![("all".into(), "all must hold".into()), ("any".into(), "any one is enough".into())] value=form.mode/>
                            <For each=move || form.conditions.get() key=|c| c.uid let:c>
                                <ConditionRow c=c form=form/>
                            </For>
                            <div class="actions">
                                <button type="button" class="small" on:click=move |_| form.conditions.update(|cs| cs.push(ConditionForm::new("service", "equals", "")))>"Add condition"</button>
                            </div>
                            <p class="hint">"No conditions: the rule acts on every incident."</p>
                        </fieldset>
                        <fieldset class="group">
                            <legend>"Then"</legend>
                            <For each=move || form.actions.get() key=|a| a.uid let:a>
                                <ActionRow a=a form=form policies=Signal::derive(policies)/>
                            </For>
                            <div class="actions">
                                <button type="button" class="small" on:click=move |_| form.actions.update(|acts| acts.push(ActionForm::new("set_priority", "high")))>"Add action"</button>
                            </div>
                        </fieldset>
                        <div class="check">
                            <input id="rule-stop" type="checkbox" bind:checked=form.stop/>
                            <label for="rule-stop">"Stop: rules after this one do not run for an incident it matched"</label>
                        </div>
    }
}

/// The rules in the order they run, each with Up/Down and Edit/Remove.
#[component]
fn RuleList(on_edit: Callback<Rule>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let confirm_remove = RwSignal::new(None::<String>);
    let order = use_command();
    view! {
            <ConfigList empty=move || state.world.with(|w| w.rules.is_empty()) empty_text="No rules yet: every incident follows its own or the default policy.">
                <ol class="config-list rules-list" aria-label="Rules, in the order they run">
                    <For each=move || { let rules = state.world.with(|w| w.rules.clone()); let n = rules.len(); rules.into_iter().enumerate().map(move |(i, r)| (i, n, r)).collect::<Vec<_>>() } key=|(i, n, r)| format!("{i}/{n}/{r:?}") let:item>
                        {
                            let (index, count, rule) = item;
                            let name = if rule.name.is_empty() { rule.id.to_string() } else { rule.name.clone() };
                            let line = summary(&rule);
                            let mover = move |id: RuleId, up: bool| move |_| order.dispatch(Command::MoveRule { id: id.clone(), up });
                            view! {
                                <li class="card config-item">
                                    <div class="config-main">
                                        <strong class="config-name">{name.clone()}</strong>
                                        <code class="rule-line">{line}</code>
                                    </div>
                                    <div class="actions-row">
                                    <div class="actions order-actions">
                                        <button type="button" aria-label=format!("Move {name} up") disabled=index == 0 on:click=mover(rule.id.clone(), true)>"↑"</button>
                                        <button type="button" aria-label=format!("Move {name} down") disabled=index + 1 == count on:click=mover(rule.id.clone(), false)>"↓"</button>
                                    </div>
                                    <RowActions name=name.clone() id=rule.id.to_string() kind=ConfigKind::Rule question=format!("Remove {name}?")
                                        confirm_remove=confirm_remove on_edit=Callback::new(move |_| on_edit.run(rule.clone())) />
                                    </div>
                                </li>
                            }
                        }
                    </For>
                </ol>
                <p class="hint">"A new rule runs after the ones above."</p>
            </ConfigList>
            <Alert message=Signal::derive(move || order.error())/>
    }
}

#[component]
fn ConditionRow(c: ConditionForm, form: RuleForm) -> impl IntoView {
    let u = c.uid;
    let n = move || form.conditions.with(|cs| cs.iter().position(|x| x.uid == u).map(|i| i + 1).unwrap_or(0));
    view! {
        <div class="condition-row">
            <ChoiceField id=format!("c{u}-field") label="Field" options=options(&FIELDS) value=c.field/>
            <Show when=move || c.field.get() == "labels">
                <div class="field">
                    <label for=format!("c{u}-label")>"Label name"</label>
                    <input id=format!("c{u}-label") type="text" autocomplete="off" placeholder="alertname" bind:value=c.label/>
                </div>
            </Show>
            <ChoiceField id=format!("c{u}-test") label="Test" options=options(&TESTS) value=c.test/>
            <div class="field">
                <label for=format!("c{u}-value")>"Value"</label>
                <input id=format!("c{u}-value") type="text" autocomplete="off" bind:value=c.value/>
            </div>
            <button type="button" class="small" aria-label=move || format!("Remove condition {}", n()) on:click=move |_| form.conditions.update(|cs| cs.retain(|x| x.uid != u))>"Remove"</button>
        </div>
    }
}

#[component]
fn ActionRow(a: ActionForm, form: RuleForm, policies: Signal<Vec<(String, String)>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let u = a.uid;
    let n = move || form.actions.with(|xs| xs.iter().position(|x| x.uid == u).map(|i| i + 1).unwrap_or(0));
    let value_control = move || {
        let id = format!("a{u}-value");
        match a.kind.get().as_str() {
            "set_priority" => {
                view! { <Choice id=id options=options(&[("urgent", "urgent"), ("high", "high"), ("normal", "normal"), ("low", "low")]) value=a.value/> }
                    .into_any()
            }
            "set_severity" => {
                view! { <Choice id=id options=options(&[("sev1", "SEV1"), ("sev2", "SEV2"), ("sev3", "SEV3"), ("sev4", "SEV4")]) value=a.value/> }.into_any()
            }
            "route_to" => view! { <Choice id=id options=policies.get() value=a.value/> }.into_any(),
            "add_targets" => {
                let mut choices = vec![(String::new(), "Choose who…".to_string())];
                state.world.with(|w| {
                    for (_, group) in target_choices(w) {
                        choices.extend(group);
                    }
                    let current = a.value.get_untracked();
                    if let Some(t) = target_from_key(&current) {
                        if !choices.iter().any(|(k, _)| *k == current) {
                            choices.push((current, target_name(w, &t)));
                        }
                    }
                });
                view! { <Choice id=id options=choices value=a.value/> }.into_any()
            }
            _ => view! { <input id=id type="text" autocomplete="off" bind:value=a.value/> }.into_any(),
        }
    };
    let on_kind = move |ev: leptos::ev::Event| {
        let kind = event_target_value(&ev);
        let default = match kind.as_str() {
            "set_priority" => "urgent",
            "set_severity" => "sev1",
            "start_at_level" => "2",
            "escalate_faster" => "0.5",
            _ => "",
        };
        a.value.set(default.into());
        a.kind.set(kind);
    };
    view! {
        <div class="condition-row">
            <div class="field">
                <label for=format!("a{u}-kind")>"Action"</label>
                <select id=format!("a{u}-kind") on:change=on_kind>
                    {ACTIONS.iter().map(|(v, t)| view! { <option value=*v prop:selected=move || a.kind.get() == *v>{*t}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for=format!("a{u}-value")>"To"</label>
                {value_control}
            </div>
            <button type="button" class="small" aria-label=move || format!("Remove action {}", n()) on:click=move |_| form.actions.update(|xs| xs.retain(|x| x.uid != u))>"Remove"</button>
        </div>
    }
}

#[component]
fn RuleTestBox(draft: Memo<Result<Rule, Problems>>, editing: Signal<bool>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let title = RwSignal::new(String::new());
    let service = RwSignal::new(String::new());
    let environment = RwSignal::new(String::new());
    let severity = RwSignal::new("sev3".to_string());
    let impact = RwSignal::new(false);
    let labels = RwSignal::new(String::new());
    let pasted = RwSignal::new(String::new());

    let result = move || -> Result<RuleTest, String> {
        let fields = TestIncident {
            title: title.get(),
            service: service.get(),
            environment: environment.get(),
            severity: severity.get(),
            customer_impact: impact.get(),
            labels: labels.get(),
        };
        let details = fields.details(&pasted.get())?;
        let draft = draft.get().ok().filter(|_| editing.get());
        Ok(state.world.with(|w| try_rules(w, draft, details, state.now.get_untracked())))
    };

    view! {
        <section class="card" aria-labelledby="rule-test-title">
            <h2 id="rule-test-title">"Test the rules"</h2>
            <p class="hint">"Describe an incident (or paste its details as JSON) and see which rules fire, in order — including the rule being edited. Nothing is saved and nobody is paged."</p>
            <div class="row">
                <Labelled label="Test title" id="test-title">
                    <input id="test-title" type="text" autocomplete="off" bind:value=title/>
                </Labelled>
                <Labelled label="Test service" id="test-service">
                    <input id="test-service" type="text" autocomplete="off" bind:value=service/>
                </Labelled>
            </div>
            <div class="row">
                <Labelled label="Test environment" id="test-env">
                    <input id="test-env" type="text" autocomplete="off" placeholder="production" bind:value=environment/>
                </Labelled>
                <ChoiceField id="test-severity" label="Test severity" options=options(&[("sev1", "SEV1"), ("sev2", "SEV2"), ("sev3", "SEV3"), ("sev4", "SEV4")]) value=severity/>
            </div>
            <Labelled label="Test labels" id="test-labels" hint="name=value, separated by commas">
                <input id="test-labels" type="text" autocomplete="off" bind:value=labels/>
            </Labelled>
            <div class="check">
                <input id="test-impact" type="checkbox" bind:checked=impact/>
                <label for="test-impact">"Customer impact"</label>
            </div>
            <Labelled label="Or paste incident details (JSON)" id="test-json" hint="{\"title\": \"…\", \"severity\": \"sev2\", \"service\": \"payments\", \"labels\": {…}}">
                <textarea id="test-json" class="code" rows="4" spellcheck="false" bind:value=pasted></textarea>
            </Labelled>
            <div class="rule-test-result" aria-live="polite">
                {move || match result() {
                    Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                    Ok(r) => view! {
                        <p><strong>{if r.fired.is_empty() { "No rule fires.".to_string() } else { "Rules that fire, in order:".to_string() }}</strong></p>
                        <ol>{r.fired.into_iter().map(|f| view! { <li>{f}</li> }).collect_view()}</ol>
                        <p>{format!("Then: {}.", r.outcome.join("; "))}</p>
                        {(!r.draft_included && editing.get()).then(|| view! { <p class="muted">"(The rule being edited has errors and is left out.)"</p> })}
                    }.into_any(),
                }}
            </div>
        </section>
    }
}
