//! Configuration records (people, teams, channels, schedules, policies, rules, maintenance
//! windows): how each sits in the [`World`], so the driver can validate a change against
//! everything else before saving it.

use crate::engine::person::Person;
use crate::engine::policy::EscalationPolicy;
use crate::engine::rules::{MaintenanceWindow, Rule};
use crate::engine::schedule::OnCallSchedule;
use crate::engine::world::{Channel, Team, World};
use crate::storage::Record;

/// A record that is part of the [`World`].
pub trait ConfigRecord: Record {
    fn list(world: &World) -> &Vec<Self>;
    fn list_mut(world: &mut World) -> &mut Vec<Self>;

    /// Adds or replaces (by id, keeping its position) in `world`.
    fn upsert_into(self, world: &mut World) {
        let id = self.id();
        let list = Self::list_mut(world);
        match list.iter().position(|x| x.id() == id) {
            Some(i) => list[i] = self,
            None => list.push(self),
        }
    }
    fn remove_from(world: &mut World, id: &str) {
        Self::list_mut(world).retain(|x| x.id() != id);
    }
}

macro_rules! config_record {
    ($t:ty, $field:ident) => {
        impl ConfigRecord for $t {
            fn list(world: &World) -> &Vec<Self> {
                &world.$field
            }
            fn list_mut(world: &mut World) -> &mut Vec<Self> {
                &mut world.$field
            }
        }
    };
}

config_record!(Person, people);
config_record!(Team, teams);
config_record!(Channel, channels);
config_record!(OnCallSchedule, schedules);
config_record!(EscalationPolicy, policies);
config_record!(Rule, rules);
config_record!(MaintenanceWindow, maintenance);
