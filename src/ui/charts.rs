//! Plain SVG charts, drawn from the pure geometry in [`crate::runtime::reports`]: each scales to
//! its container's width (a viewBox, `width: 100 %`), has an accessible name (`role="img"` and
//! `aria-label`), and is always shown beside a table of its numbers ([`DataTable`]).

use leptos::prelude::*;

use crate::runtime::reports::{bars, line, Table};

/// Labels longer than this are cut (the table beside the chart has them whole).
const LABEL_CHARS: usize = 17;

fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_string()
    } else {
        format!("{}…", label.chars().take(LABEL_CHARS - 1).collect::<String>())
    }
}

/// Horizontal bars: one row per `(label, value, value in words)`.
#[component]
pub fn BarChart(#[prop(into)] label: String, items: Vec<(String, f64, String)>) -> impl IntoView {
    let chart = bars(&items);
    let view_box = format!("0 0 {} {}", chart.width, chart.height);
    view! {
        <svg class="chart chart-bars" role="img" aria-label=label viewBox=view_box preserveAspectRatio="xMinYMin meet">
            {chart
                .bars
                .into_iter()
                .map(|b| {
                    let mid = b.y + b.height / 2.0 + 4.0;
                    view! {
                        <text class="chart-label" x=b.x - 6.0 y=mid text-anchor="end">{short(&b.label)}</text>
                        <rect class="chart-bar" x=b.x y=b.y width=b.width.max(1.0) height=b.height rx="2"/>
                        <text class="chart-value" x=b.x + b.width + 4.0 y=mid>{b.text}</text>
                    }
                })
                .collect_view()}
        </svg>
    }
}

/// A line over time, with the first and last labels under it and the highest value at the top.
#[component]
pub fn LineChart(#[prop(into)] label: String, values: Vec<f64>, #[prop(into)] first: String, #[prop(into)] last: String) -> impl IntoView {
    let l = line(&values);
    let view_box = format!("0 0 {} {}", l.width, l.height + 16.0);
    let (w, h) = (l.width, l.height);
    view! {
        <svg class="chart chart-line" role="img" aria-label=label viewBox=view_box preserveAspectRatio="xMinYMin meet">
            <line class="chart-axis" x1="0" y1=h x2=w y2=h/>
            <text class="chart-value" x="2" y="10">{format!("{}", l.max)}</text>
            <polyline class="chart-stroke" points=l.points fill="none"/>
            <text class="chart-label" x="2" y=h + 13.0>{first}</text>
            <text class="chart-label" x=w - 2.0 y=h + 13.0 text-anchor="end">{last}</text>
        </svg>
    }
}

/// A table of words; on a phone each row stacks, every cell with its column's name.
#[component]
pub fn DataTable(table: Table) -> impl IntoView {
    if table.rows.is_empty() {
        return view! { <p class="muted">{format!("{}: nothing in this period.", table.caption)}</p> }.into_any();
    }
    let head = table.head.clone();
    view! {
        <table class="report-table">
            <caption>{table.caption}</caption>
            <thead><tr>{table.head.into_iter().map(|h| view! { <th scope="col">{h}</th> }).collect_view()}</tr></thead>
            <tbody>
                {table
                    .rows
                    .into_iter()
                    .map(|row| {
                        let head = head.clone();
                        view! {
                            <tr>
                                {row
                                    .into_iter()
                                    .enumerate()
                                    .map(|(i, cell)| view! { <td data-label=head.get(i).cloned().unwrap_or_default()>{cell}</td> })
                                    .collect_view()}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// A chart with its numbers: the table in a `<details>` under it.
#[component]
pub fn ChartWithTable(#[prop(into)] title: String, table: Table, children: Children) -> impl IntoView {
    let empty = table.rows.is_empty();
    view! {
        <figure class="report-chart">
            <figcaption>{title}</figcaption>
            {if empty { view! { <p class="muted">"Nothing in this period."</p> }.into_any() } else { children().into_any() }}
            <details class="chart-numbers">
                <summary>"The numbers"</summary>
                <DataTable table=table/>
            </details>
        </figure>
    }
}
