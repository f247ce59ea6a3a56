//! Retrospectives: after a resolved incident, a summary and action items with an owner, a due
//! date and whether they are done; Reports lists the items still open and those overdue.
//!
//! Owns: [`Retrospective`], [`ActionItem`], [`Retrospective::validate`] and [`open_and_overdue`].
//! Never: stores anything (a retrospective is a plain record the storage layer keeps by incident
//! id) or reads the clock (`today` is a parameter, in the team's own calendar).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::engine::escalation::TEXT_MAX;
use crate::engine::incident::{Incident, IncidentId};
use crate::engine::person::PersonId;
use crate::engine::world::World;

/// The most action items one retrospective holds.
pub const MAX_ITEMS: usize = 100;
/// The longest action item text (characters).
pub const ITEM_MAX: usize = 1_000;

/// What a team learned from one resolved incident.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retrospective {
    pub incident: IncidentId,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub items: Vec<ActionItem>,
}

/// Something to do so it does not happen again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionItem {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    #[serde(default)]
    pub done: bool,
}

/// What is wrong with a retrospective, at its path (`items[2].owner`), like every other form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RetroProblem {
    pub path: String,
    pub message: String,
}

fn problem(path: impl Into<String>, message: impl Into<String>) -> RetroProblem {
    RetroProblem { path: path.into(), message: message.into() }
}

impl Retrospective {
    /// Every problem, in field order: the incident must exist and be resolved (`incident` is the
    /// one it names, if found); the summary at most [`TEXT_MAX`] characters; at most
    /// [`MAX_ITEMS`] items, each with a text of 1–[`ITEM_MAX`] characters and an owner who is a
    /// configured person. A due date may lie in the past (an item can be recorded late).
    pub fn validate(&self, world: &World, incident: Option<&Incident>) -> Result<(), Vec<RetroProblem>> {
        let mut problems = Vec::new();
        match incident {
            None => problems.push(problem("incident", format!("no incident “{}”", self.incident))),
            Some(i) if i.id != self.incident => problems.push(problem("incident", format!("“{}” is not incident “{}”", i.id, self.incident))),
            Some(i) if i.is_open() => problems.push(problem("incident", "a retrospective is for a resolved incident")),
            Some(_) => {}
        }
        if self.summary.chars().count() > TEXT_MAX {
            problems.push(problem("summary", format!("at most {TEXT_MAX} characters")));
        }
        if self.items.len() > MAX_ITEMS {
            problems.push(problem("items", format!("at most {MAX_ITEMS} action items")));
        }
        for (n, item) in self.items.iter().enumerate() {
            let text = item.text.trim();
            if text.is_empty() {
                problems.push(problem(format!("items[{n}].text"), "say what is to be done"));
            } else if item.text.chars().count() > ITEM_MAX {
                problems.push(problem(format!("items[{n}].text"), format!("at most {ITEM_MAX} characters")));
            }
            if let Some(owner) = &item.owner {
                if world.person(owner).is_none() {
                    problems.push(problem(format!("items[{n}].owner"), format!("no person “{owner}”")));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// An action item not done yet, for the Reports list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenItem {
    pub incident: IncidentId,
    /// Position in the retrospective's items.
    pub index: usize,
    pub text: String,
    pub owner: Option<PersonId>,
    pub due: Option<NaiveDate>,
    /// Due before `today`.
    pub overdue: bool,
    /// How many days past due (0 when not overdue).
    pub days_overdue: i64,
}

/// Every item not done: overdue ones first (most overdue first), then those with a due date
/// (soonest first), then those without; ties in the order given. An item due today is not
/// overdue.
pub fn open_and_overdue<'a>(retros: impl IntoIterator<Item = &'a Retrospective>, today: NaiveDate) -> Vec<OpenItem> {
    let mut items: Vec<OpenItem> = retros
        .into_iter()
        .flat_map(|r| {
            r.items.iter().enumerate().filter(|(_, i)| !i.done).map(move |(index, i)| {
                let days_overdue = i.due.map_or(0, |d| (today - d).num_days().max(0));
                OpenItem {
                    incident: r.incident.clone(),
                    index,
                    text: i.text.clone(),
                    owner: i.owner.clone(),
                    due: i.due,
                    overdue: days_overdue > 0,
                    days_overdue,
                }
            })
        })
        .collect();
    items.sort_by_key(|i| (!i.overdue, i.due.is_none(), if i.overdue { -i.days_overdue } else { 0 }, i.due));
    items
}
