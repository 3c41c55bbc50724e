//! `/admin` policy (to come).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{AdminState, see_other, session_or_login};

/// The page.
pub async fn page(request: HttpRequest, admin: web::Data<AdminState>) -> HttpResponse {
    if let Err(answer) = session_or_login(&request, &admin) {
        return answer;
    }
    see_other("/admin/inbox")
}
