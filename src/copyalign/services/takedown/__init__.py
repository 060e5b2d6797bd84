"""The takedown desk: notice and necessary measures, counter-notices, complaints and the graduated response
(seed 004 ¶84-92). The facade is :class:`copyalign.services.takedown.desk.TakedownService` (``ca.takedown``)."""
