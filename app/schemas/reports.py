"""Report responses: figures per currency, amounts as decimal strings."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from app.core.money import AmountOut
from app.services.reports import AgingBucket, CurrencyAging, CurrencySummary, Figure, MonthFigures


class FigureOut(BaseModel):
    count: int = Field(description="How many invoices.")
    amount: AmountOut

    @classmethod
    def of(cls, figure: Figure) -> FigureOut:
        return cls(count=figure.count, amount=figure.amount)


class MonthOut(BaseModel):
    month: str = Field(description="`YYYY-MM`, of the issue date.")
    invoiced: FigureOut
    paid_amount: AmountOut
    outstanding_amount: AmountOut

    @classmethod
    def of(cls, month: MonthFigures) -> MonthOut:
        return cls(
            month=month.month,
            invoiced=FigureOut.of(month.invoiced),
            paid_amount=month.paid_amount,
            outstanding_amount=month.outstanding_amount,
        )


class CurrencySummaryOut(BaseModel):
    currency: str
    invoiced: FigureOut = Field(description="Finalized, not voided: their totals.")
    paid: FigureOut = Field(description="Invoices fully paid; the amount is all money received.")
    outstanding: FigureOut = Field(description="Open invoices, and what is due on them.")
    overdue: FigureOut = Field(description="Open invoices past their due date, and what is due on them.")
    months: list[MonthOut] = Field(description="By month of issue, oldest first.")

    @classmethod
    def of(cls, summary: CurrencySummary) -> CurrencySummaryOut:
        return cls(
            currency=summary.currency,
            invoiced=FigureOut.of(summary.invoiced),
            paid=FigureOut.of(summary.paid),
            outstanding=FigureOut.of(summary.outstanding),
            overdue=FigureOut.of(summary.overdue),
            months=[MonthOut.of(month) for month in summary.months],
        )


class SummaryReport(BaseModel):
    issued_from: date | None
    issued_to: date | None
    as_of: date = Field(description="The day (UTC) `overdue` was judged on.")
    currencies: list[CurrencySummaryOut]


class AgingBucketOut(BaseModel):
    bucket: str = Field(description="Days past due: `current`, `1-30`, `31-60`, `61-90`, `90+`.")
    count: int
    amount: AmountOut

    @classmethod
    def of(cls, bucket: AgingBucket) -> AgingBucketOut:
        return cls(bucket=bucket.name, count=bucket.count, amount=bucket.amount)


class CurrencyAgingOut(BaseModel):
    currency: str
    buckets: list[AgingBucketOut]
    total: FigureOut

    @classmethod
    def of(cls, aging: CurrencyAging) -> CurrencyAgingOut:
        return cls(
            currency=aging.currency,
            buckets=[AgingBucketOut.of(bucket) for bucket in aging.buckets],
            total=FigureOut.of(aging.total),
        )


class AgingReport(BaseModel):
    as_of: date = Field(description="The day (UTC) days past due are counted from.")
    currencies: list[CurrencyAgingOut]
