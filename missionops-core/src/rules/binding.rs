//! The binding of a snapshot layout (its ordered parameter names) to rules, made once per layout
//! and reused by every snapshot with the same layout, so that the per-sample work needs no
//! hashing or string comparison. Both the compat evaluator and the streaming monitor use it.

use crate::domain::Layout;

use super::compile::CompiledRules;

/// The positions of a layout that have a rule, each with what the evaluator keeps of the rule.
#[derive(Debug, Clone)]
pub(crate) struct LayoutBinding<T> {
    /// The layout the binding was made for.
    layout: Option<Layout>,
    bound: Vec<(usize, T)>,
}

impl<T> Default for LayoutBinding<T> {
    fn default() -> Self {
        LayoutBinding {
            layout: None,
            bound: Vec::new(),
        }
    }
}

impl<T> LayoutBinding<T> {
    /// Binds `layout` unless it is the one bound already (a pointer comparison, or a slice
    /// comparison for layouts that are equal but not shared). `keep` says, for a position whose
    /// parameter has a rule (by index), what to keep of it; `None` leaves the position out.
    #[inline]
    pub(crate) fn bind(
        &mut self,
        layout: &Layout,
        rules: &CompiledRules,
        mut keep: impl FnMut(u32) -> Option<T>,
    ) {
        if let Some(current) = &self.layout {
            if current.same_as(layout) || current.names() == layout.names() {
                return;
            }
        }
        self.bound.clear();
        for (position, name) in layout.names().iter().enumerate() {
            if let Some(kept) = rules.index_of(name).and_then(&mut keep) {
                self.bound.push((position, kept));
            }
        }
        self.layout = Some(layout.clone());
    }

    /// The bound positions, in layout order.
    #[inline]
    pub(crate) fn bound(&self) -> &[(usize, T)] {
        &self.bound
    }

    /// Forgets the binding (the rules changed).
    pub(crate) fn clear(&mut self) {
        self.layout = None;
        self.bound.clear();
    }
}
