//! Flavors: the sizes servers are built with, their extra specs, and the
//! projects that may use a private flavor.
//!
//! Nova does not seed flavors; [`Compute::ensure_default_flavors`] creates
//! devstack's `m1.*` set for `oxistack up`. Deleting a flavor removes it
//! (Nova soft-deletes the row); servers keep their own copy
//! ([`Flavor::to_spec`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use compute_agent::rpc::FlavorSpec;

use crate::Compute;
use crate::db;
use crate::error::{ComputeError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub root_gb: u64,
    pub ephemeral_gb: u64,
    pub swap_mb: u64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub disabled: bool,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
}

impl Flavor {
    /// The copy an instance keeps.
    pub fn to_spec(&self) -> FlavorSpec {
        FlavorSpec {
            id: self.id.clone(),
            name: self.name.clone(),
            vcpus: self.vcpus,
            memory_mb: self.memory_mb,
            root_gb: self.root_gb,
            ephemeral_gb: self.ephemeral_gb,
            swap_mb: self.swap_mb,
            extra_specs: self.extra_specs.clone(),
        }
    }
}

/// The sort keys `GET /flavors` accepts (Nova's flavor columns).
pub const SORT_KEYS: &[&str] = &[
    "created_at",
    "description",
    "disabled",
    "ephemeral_gb",
    "flavorid",
    "id",
    "is_public",
    "memory_mb",
    "name",
    "root_gb",
    "rxtx_factor",
    "swap",
    "updated_at",
    "vcpu_weight",
    "vcpus",
];

/// A flavor listing.
#[derive(Clone, Debug)]
pub struct FlavorQuery {
    /// `None`: public and private.
    pub is_public: Option<bool>,
    /// Hide disabled flavors (non-admins).
    pub only_enabled: bool,
    /// With `is_public: Some(true)`, also the private flavors this project
    /// was given.
    pub project_id: Option<String>,
    pub min_ram: Option<u64>,
    pub min_disk: Option<u64>,
    pub sort_key: String,
    pub ascending: bool,
    pub marker: Option<String>,
    pub limit: Option<usize>,
}

/// What `POST /flavors` asks for.
#[derive(Clone, Debug)]
pub struct NewFlavor {
    pub id: Option<String>,
    pub name: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub root_gb: u64,
    pub ephemeral_gb: u64,
    pub swap_mb: u64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub description: Option<String>,
}

fn not_found(id: &str) -> ComputeError {
    ComputeError::not_found(format!("Flavor {id} could not be found."))
}

fn compare(key: &str, a: &db::flavors::Stamped, b: &db::flavors::Stamped) -> Ordering {
    let (fa, ca, ua) = a;
    let (fb, cb, ub) = b;
    let primary = match key {
        "name" => fa.name.cmp(&fb.name),
        "memory_mb" => fa.memory_mb.cmp(&fb.memory_mb),
        "root_gb" => fa.root_gb.cmp(&fb.root_gb),
        "ephemeral_gb" => fa.ephemeral_gb.cmp(&fb.ephemeral_gb),
        "swap" => fa.swap_mb.cmp(&fb.swap_mb),
        "vcpus" => fa.vcpus.cmp(&fb.vcpus),
        "rxtx_factor" => fa.rxtx_factor.total_cmp(&fb.rxtx_factor),
        "is_public" => fa.is_public.cmp(&fb.is_public),
        "disabled" => fa.disabled.cmp(&fb.disabled),
        "description" => fa.description.cmp(&fb.description),
        // the internal id grows with creation
        "created_at" | "id" => ca.cmp(cb),
        "updated_at" => ua.cmp(ub),
        // vcpu_weight is never set: all equal
        _ => Ordering::Equal,
    };
    primary.then_with(|| fa.id.cmp(&fb.id))
}

impl Compute {
    /// Any flavor by its id, whoever may see it (callers check
    /// [`Compute::flavor_accessible`]).
    pub async fn get_flavor(&self, id: &str) -> Result<Flavor> {
        db::flavors::get(&self.db, id).await?.ok_or_else(|| not_found(id))
    }

    /// Whether a project may use the flavor: public, or given access.
    pub async fn flavor_accessible(&self, flavor: &Flavor, project_id: &str) -> Result<bool> {
        if flavor.is_public {
            return Ok(true);
        }
        db::flavors::has_access(&self.db, &flavor.id, project_id).await
    }

    /// A flavor as a caller sees it: admins see all, others public ones
    /// and private ones their project was given (404 otherwise, as Nova).
    pub async fn show_flavor(&self, id: &str, is_admin: bool, project_id: Option<&str>) -> Result<Flavor> {
        let f = self.get_flavor(id).await?;
        if is_admin || f.is_public {
            return Ok(f);
        }
        match project_id {
            Some(p) if db::flavors::has_access(&self.db, id, p).await? => Ok(f),
            _ => Err(not_found(id)),
        }
    }

    /// A page of flavors.
    pub async fn list_flavors(&self, q: &FlavorQuery) -> Result<Vec<Flavor>> {
        let all = db::flavors::all(&self.db).await?;
        let accessible = match (&q.project_id, q.is_public) {
            (Some(p), Some(true)) => db::flavors::accessible_ids(&self.db, p).await?,
            _ => Vec::new(),
        };
        let key = q.sort_key.as_str();
        let cmp = |a: &db::flavors::Stamped, b: &db::flavors::Stamped| {
            let o = compare(key, a, b);
            if q.ascending { o } else { o.reverse() }
        };
        let marker = match &q.marker {
            Some(m) => match all.iter().find(|(f, _, _)| &f.id == m) {
                Some(found) => Some(found.clone()),
                None => return Err(ComputeError::bad(format!("marker [{m}] not found"))),
            },
            None => None,
        };
        let mut rows: Vec<db::flavors::Stamped> = all
            .into_iter()
            .filter(|(f, _, _)| match q.is_public {
                None => true,
                Some(true) => f.is_public || accessible.contains(&f.id),
                Some(false) => !f.is_public,
            })
            .filter(|(f, _, _)| !(q.only_enabled && f.disabled))
            .filter(|(f, _, _)| q.min_ram.is_none_or(|m| f.memory_mb >= m))
            .filter(|(f, _, _)| q.min_disk.is_none_or(|m| f.root_gb >= m))
            .filter(|row| marker.as_ref().is_none_or(|m| cmp(row, m) == Ordering::Greater))
            .collect();
        rows.sort_by(cmp);
        if let Some(limit) = q.limit {
            rows.truncate(limit);
        }
        Ok(rows.into_iter().map(|(f, _, _)| f).collect())
    }

    /// Creates a flavor (409 on a taken id or name).
    pub async fn create_flavor(&self, new: NewFlavor) -> Result<Flavor> {
        let id = new.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let dup_id = || ComputeError::conflict(format!("Flavor with ID {id} already exists."));
        let dup_name = || ComputeError::conflict(format!("Flavor with name {} already exists.", new.name));
        if db::flavors::get(&self.db, &id).await?.is_some() {
            return Err(dup_id());
        }
        if db::flavors::name_taken(&self.db, &new.name).await? {
            return Err(dup_name());
        }
        let f = Flavor {
            id: id.clone(),
            name: new.name.clone(),
            vcpus: new.vcpus,
            memory_mb: new.memory_mb,
            root_gb: new.root_gb,
            ephemeral_gb: new.ephemeral_gb,
            swap_mb: new.swap_mb,
            rxtx_factor: new.rxtx_factor,
            is_public: new.is_public,
            disabled: false,
            description: new.description,
            extra_specs: BTreeMap::new(),
        };
        match db::flavors::insert(&self.db, &f, db::now()).await {
            Ok(()) => Ok(f),
            Err(ComputeError::Store(store::StoreError::Conflict(_))) => {
                if db::flavors::get(&self.db, &id).await?.is_some() {
                    Err(dup_id())
                } else {
                    Err(dup_name())
                }
            }
            Err(e) => Err(e),
        }
    }

    pub async fn delete_flavor(&self, id: &str) -> Result<()> {
        if db::flavors::delete(&self.db, id).await? {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    pub async fn update_flavor_description(&self, id: &str, description: Option<&str>) -> Result<Flavor> {
        if !db::flavors::set_description(&self.db, id, description, db::now()).await? {
            return Err(not_found(id));
        }
        self.get_flavor(id).await
    }

    /// Sets extra specs (validated as Nova does from 2.86 when `validate`).
    pub async fn set_extra_specs(&self, id: &str, specs: &BTreeMap<String, String>, validate: bool) -> Result<()> {
        self.get_flavor(id).await?;
        if validate {
            for (k, v) in specs {
                validate_extra_spec(k, v)?;
            }
        }
        db::flavors::set_specs(&self.db, id, specs).await
    }

    pub async fn delete_extra_spec(&self, id: &str, key: &str) -> Result<()> {
        self.get_flavor(id).await?;
        if db::flavors::delete_spec(&self.db, id, key).await? {
            Ok(())
        } else {
            Err(ComputeError::not_found(format!(
                "Flavor {id} has no extra specs with key {key}."
            )))
        }
    }

    /// Projects with access to a private flavor.
    pub async fn flavor_access(&self, id: &str) -> Result<Vec<String>> {
        let f = self.get_flavor(id).await?;
        if f.is_public {
            return Err(ComputeError::not_found("Access list not available for public flavors."));
        }
        db::flavors::projects(&self.db, id).await
    }

    pub async fn add_flavor_access(&self, id: &str, project_id: &str) -> Result<Vec<String>> {
        let f = self.get_flavor(id).await?;
        if f.is_public {
            return Err(ComputeError::conflict("Can not add access to a public flavor."));
        }
        match db::flavors::add_access(&self.db, id, project_id).await {
            Err(ComputeError::Store(store::StoreError::Conflict(_))) => Err(ComputeError::conflict(format!(
                "Flavor access already exists for flavor {id} and project {project_id} combination."
            ))),
            other => other,
        }?;
        db::flavors::projects(&self.db, id).await
    }

    pub async fn remove_flavor_access(&self, id: &str, project_id: &str) -> Result<Vec<String>> {
        let f = self.get_flavor(id).await?;
        if f.is_public {
            return Err(ComputeError::not_found("Access list not available for public flavors."));
        }
        if !db::flavors::remove_access(&self.db, id, project_id).await? {
            return Err(ComputeError::not_found(format!(
                "Flavor access not found for {id} / {project_id} combination."
            )));
        }
        db::flavors::projects(&self.db, id).await
    }

    /// Creates devstack's flavors (`m1.tiny` … `m1.xlarge`, ids 1–5) that
    /// are missing; an id or name already taken is left alone.
    pub async fn ensure_default_flavors(&self) -> Result<()> {
        const DEFAULTS: &[(&str, &str, u64, u64, u32)] = &[
            ("1", "m1.tiny", 512, 1, 1),
            ("2", "m1.small", 2048, 20, 1),
            ("3", "m1.medium", 4096, 40, 2),
            ("4", "m1.large", 8192, 80, 4),
            ("5", "m1.xlarge", 16384, 160, 8),
        ];
        for (id, name, ram, disk, vcpus) in DEFAULTS {
            if db::flavors::get(&self.db, id).await?.is_some() || db::flavors::name_taken(&self.db, name).await? {
                continue;
            }
            let new = NewFlavor {
                id: Some((*id).to_owned()),
                name: (*name).to_owned(),
                vcpus: *vcpus,
                memory_mb: *ram,
                root_gb: *disk,
                ephemeral_gb: 0,
                swap_mb: 0,
                rxtx_factor: 1.0,
                is_public: true,
                description: None,
            };
            match self.create_flavor(new).await {
                Ok(_) | Err(ComputeError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Nova's extra-spec validation (2.86+), for the namespaces whose values
/// have a fixed form; keys of other namespaces pass (Nova also rejects
/// unknown keys of its registered namespaces, which is not done here).
pub fn validate_extra_spec(key: &str, value: &str) -> Result<()> {
    let bad = |why: String| ComputeError::bad(format!("Validation failed; {why}"));
    let int = |v: &str| v.parse::<i64>().is_ok();
    match key.split_once(':') {
        Some(("resources", rc)) if rc.is_empty() || !int(value) => Err(bad(format!(
            "The value '{value}' for extra spec '{key}' is invalid; it must be an integer."
        ))),
        Some(("trait", _)) if !matches!(value, "required" | "forbidden") => Err(bad(format!(
            "The value '{value}' for extra spec '{key}' is not one of: required, forbidden."
        ))),
        Some(("hw", "cpu_policy")) if !matches!(value, "shared" | "dedicated" | "mixed") => Err(bad(format!(
            "The value '{value}' for extra spec '{key}' is not one of: shared, dedicated, mixed."
        ))),
        Some(("hw", "cpu_thread_policy")) if !matches!(value, "prefer" | "isolate" | "require") => Err(bad(format!(
            "The value '{value}' for extra spec '{key}' is not one of: prefer, isolate, require."
        ))),
        Some(("hw", "numa_nodes" | "cpu_sockets" | "cpu_cores" | "cpu_threads")) if !int(value) => Err(bad(format!(
            "The value '{value}' for extra spec '{key}' is invalid; it must be an integer."
        ))),
        _ => Ok(()),
    }
}
